"""draw_network: one node per neuron, weight edges, collapsed inputs."""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET

import pytest

from microgradnn.losses import cross_entropy, mse_loss
from microgradnn.nn import MLP
from viz import draw_network

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz 'dot' not installed")


def edges(source: str):
    return re.findall(r"^\t(\w+) -> (\w+) \[(.*)\]$", source, flags=re.M)


def drawn(source: str):
    return [e for e in edges(source) if "style=invis" not in e[2]]


def test_one_node_per_neuron_and_one_edge_per_weight():
    mlp = MLP(3, [4, 2], seed=0)
    source = draw_network(mlp).source
    for name in ["x0", "x1", "x2"] + [f"n0_{i}" for i in range(4)] + ["n1_0", "n1_1"]:
        assert re.search(rf"^\t+{name} \[.*id={name}", source, flags=re.M), name
    pairs = [(a, b) for a, b, _ in drawn(source)]
    assert len(pairs) == 3 * 4 + 4 * 2
    assert ("x2", "n0_3") in pairs and ("n0_3", "n1_1") in pairs
    assert "id=w1_1_3" in source


def test_edge_colour_follows_weight_sign_and_width_its_size():
    mlp = MLP(2, [2], seed=0)
    neuron = mlp.layers[0].neurons[0]
    neuron.w[0].data, neuron.w[1].data = -0.8, 0.2
    other = mlp.layers[0].neurons[1]
    other.w[0].data, other.w[1].data = 0.4, 0.0
    attrs = {e_id: attrs for _, _, attrs in drawn(draw_network(mlp).source)
             for e_id in re.findall(r"id=(\w+)", attrs)}
    colour = {k: re.search(r'color="(#\w+)"', v).group(1) for k, v in attrs.items()}
    width = {k: float(re.search(r"penwidth=([\d.]+)", v).group(1)) for k, v in attrs.items()}
    assert colour["w0_0_0"] == "#5e3c99"  # the largest |w|, negative: full purple
    r, _, b = (int(colour["w0_0_1"][i:i + 2], 16) for i in (1, 3, 5))
    assert r > b  # positive: orange side
    assert width["w0_0_0"] > width["w0_1_0"] > width["w0_0_1"] > width["w0_1_1"]


def test_mnist_sized_input_collapses_into_one_node():
    mlp = MLP(784, [16, 16, 10], seed=0)
    source = draw_network(mlp).source
    assert "x0" not in source and "28×28 image" in source and "784 values" in source
    pairs = [(a, b) for a, b, _ in drawn(source)]
    assert len(pairs) == 16 + 16 * 16 + 16 * 10
    assert sum(1 for a, _ in pairs if a == "input") == 16
    assert len(re.findall(r"^\t+n\d+_\d+ \[", source, flags=re.M)) == 42


def test_grads_show_after_backward_and_no_grad_row_before():
    mlp = MLP(3, [3, 2], seed=2)
    before = draw_network(mlp).source
    assert "no gradients stored" in before and "Σ|grad|" not in before
    assert "not yet" not in before and "call backward" not in before
    loss = cross_entropy([mlp([1.0, -2.0, 0.5])], [1])
    loss.backward()
    after = draw_network(mlp).source
    assert "Σ|grad|" in after and "no gradients stored" not in after
    assert "from the last backward()" in after
    n = mlp.layers[1].neurons[0]
    total = sum(abs(w.grad) for w in n.w) + abs(n.b.grad)
    assert f"{total:.4f}" in after.split("n1_0 [")[1].split("\n")[0]
    by_grad = draw_network(mlp, edge_value="grad").source
    assert "weight gradient sign" in by_grad


def test_deterministic_and_options():
    mlp = MLP(2, [3, 1], seed=4)
    assert draw_network(mlp).source == draw_network(mlp).source
    assert "rankdir=TB" in draw_network(mlp, rankdir="TB").source
    with pytest.raises(ValueError, match="edge_value"):
        draw_network(mlp, edge_value="bias")
    with pytest.raises(ValueError, match="rankdir"):
        draw_network(mlp, rankdir="sideways")
    with pytest.raises(TypeError, match="MLP"):
        draw_network([1, 2])


def test_too_many_weights_keeps_the_largest():
    mlp = MLP(10, [30, 30, 5], seed=0)
    source = draw_network(mlp, max_edges=100).source
    assert len(drawn(source)) == 100
    assert f"showing the 100 largest of {10 * 30 + 30 * 30 + 30 * 5} edges" in source
    weights = sorted((abs(w.data), f"w{li}_{ni}_{ki}") for li, layer in enumerate(mlp.layers)
                     for ni, n in enumerate(layer.neurons) for ki, w in enumerate(n.w))
    kept = {re.search(r"id=(\w+)", attrs).group(1) for _, _, attrs in drawn(source)}
    assert kept == {name for _, name in weights[-100:]}


def test_title_is_escaped():
    source = draw_network(MLP(2, [1], seed=0), title="<b>&").source
    assert "&lt;b&gt;&amp;" in source and "<b>&" not in source


@needs_dot
def test_renders_svg_with_bias_and_neuron_ids():
    mlp = MLP(784, [16, 16, 10], seed=0)
    loss = mse_loss(mlp([0.01] * 784), [0.0] * 10)
    loss.backward()
    root = ET.fromstring(draw_network(mlp).pipe(format="svg"))
    ns = "{http://www.w3.org/2000/svg}"
    ids = {g.get("id") for g in root.iter(f"{ns}g")}
    assert {"input", "n0_0", "n2_9", "w0_15", "w2_9_15"} <= ids
    texts = ["".join(t.itertext()) for t in root.iter(f"{ns}text")]
    assert "Σ|grad|" in texts and "0.0000" in texts


def test_a_trained_network_keeps_the_gradients_of_its_last_backward_pass():
    """Training ends with a backward pass: the picture shows those gradients, and after
    zero_grad() no box claims a gradient is still to come."""
    from microgradnn.optim import SGD

    mlp = MLP(2, [3, 2], seed=1)
    opt = SGD(mlp.parameters(), lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        loss = cross_entropy([mlp([0.5, -1.0])], [1])
        loss.backward()
        opt.step()
    shown = draw_network(mlp).source
    n = mlp.layers[0].neurons[2]
    total = sum(abs(w.grad) for w in n.w) + abs(n.b.grad)
    assert total > 0 and f"{total:.4f}" in shown.split("n0_2 [")[1].split("\n")[0]
    opt.zero_grad()
    cleared = draw_network(mlp).source
    assert "Σ|grad|" not in cleared and "grad" not in cleared.split("n0_2 [")[1].split("\n")[0]


def test_neurons_are_named_as_in_the_lectures_and_outputs_by_class():
    mlp = MLP(4, [3, 10], seed=0)
    source = draw_network(mlp, output_names=[str(d) for d in range(10)]).source
    assert "a[1][2]" in source.split("n0_2 [")[1].split("\n")[0]
    for d in range(10):  # linear outputs: the weighted sums z[L][j] themselves
        assert f"z[2][{d}]" in source and f"“{d}”" in source.split(f"n1_{d} [")[1].split("\n")[0]
    assert "layer 1" in source and "edge width" in source and "edge colour" in source
    with pytest.raises(ValueError, match="3 names for 10 output neurons"):
        draw_network(mlp, output_names=["a", "b", "c"])
