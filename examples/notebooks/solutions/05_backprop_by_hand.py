"""Solutions of notebook 05 (``05_backprop_by_hand.ipynb``): try the exercises first.

Each section below a line ``# exercise: NAMES`` is the code of the notebook's exercise cell
that starts with that same line. ``tests/test_practice_notebook.py`` runs the notebook with
these sections in place of the empty cells, so every check is known to pass on a right
answer (and, with a planted mistake, to fail). Not meant to run on its own: it uses the
notebook's variables.
"""
# exercise: dC_da3
dC_da3 = 2 * (a3 - y) / n  # C = (1/n) Σ (a - y)²

# exercise: delta3
delta3 = dC_da3 * a3 * (1 - a3)  # σ'(z[3]) = a3 (1 - a3)

# exercise: delta2, delta1
delta2 = (delta3 @ W3) * a2 * (1 - a2)  # one example per row: W[3]ᵀ δ[3] is delta3 @ W3
delta1 = (delta2 @ W2) * a1 * (1 - a1)

# exercise: dW3, db3, dW2, db2, dW1, db1
dW3, db3 = delta3.T @ a2, delta3.sum(axis=0)  # (10, n) @ (n, 16): Σ over the examples
dW2, db2 = delta2.T @ a1, delta2.sum(axis=0)
dW1, db1 = delta1.T @ x, delta1.sum(axis=0)

# exercise: dK, dbK
out_h, out_w = delta_c.shape[2:]
dK = np.zeros((4, 1, 3, 3))
for i in range(3):
    for j in range(3):  # the input window under kernel offset (i, j), at every position
        window = maps[:, :, i:i + out_h, j:j + out_w]  # (n, 1, 26, 26)
        dK[:, :, i, j] = np.einsum("nchw,ndhw->cd", delta_c, window)
dbK = delta_c.sum(axis=(0, 2, 3))
