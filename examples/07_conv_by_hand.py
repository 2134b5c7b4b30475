"""Example 7: a 3x3 filter slides over a 6x6 image of Values; how convolution gradients flow.

Every pixel and every kernel weight is a ``Value``, and each output pixel is the plain
sum of 9 products: the filter laid over one window of the (padded) image. Stride is
how far the window jumps; padding adds a border of zeros so the window can sit on the
edge. Backward then shows the two rules of conv layers:
  * ∂L/∂(kernel weight) = sum over windows of (upstream grad x the pixel under it);
  * ∂L/∂(pixel) = sum over the windows covering it of (upstream grad x the weight on it).

    python examples/07_conv_by_hand.py [--quick] [--out DIR]
"""

from __future__ import annotations

from typing import List

import numpy as np
from _helpers import example_args, save_graph, say_saved

from microgradnn import Value, format_number
from viz.plots.common import new_figure, save_figure

Grid = List[List[Value]]

IMAGE = np.array([[0, 0, 0, 1, 1, 1]] * 3 + [[0, 0, 1, 1, 1, 1]] * 3, dtype=float)  # an edge
KERNEL = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=float)  # Sobel: finds vertical edges


def values(array: np.ndarray, name: str) -> Grid:
    return [[Value(float(v), label=f"{name}{r}{c}") for c, v in enumerate(row)]
            for r, row in enumerate(array)]


def conv2d(image: Grid, kernel: Grid, stride: int = 1, padding: int = 0) -> Grid:
    """Cross-correlation as in PyTorch: out[i][j] = sum_uv kernel[u][v] * padded[i*s+u][j*s+v]."""
    size, k = len(image), len(kernel)
    zero = Value(0.0, label="pad")  # one shared constant for the whole border
    padded = [[image[r - padding][c - padding] if 0 <= r - padding < size and 0 <= c - padding < size
               else zero for c in range(size + 2 * padding)] for r in range(size + 2 * padding)]
    out_size = (size + 2 * padding - k) // stride + 1
    out = []
    for i in range(out_size):
        row = []
        for j in range(out_size):
            terms = [kernel[u][v] * padded[i * stride + u][j * stride + v]
                     for u in range(k) for v in range(k)]
            total = terms[0]
            for term in terms[1:]:
                total = total + term
            total.label = f"out{i}{j}"
            row.append(total)
        out.append(row)
    return out


def data(grid: Grid, attr: str = "data") -> np.ndarray:
    return np.array([[getattr(v, attr) for v in row] for row in grid])


def show(title: str, array: np.ndarray) -> None:
    print(f"{title}:")
    for row in array:
        print("   " + " ".join(f"{v:7.2f}" for v in row))


def draw_grids(panels, path) -> None:
    fig = new_figure(3.2 * len(panels), 3.4)
    for ax, (title, array) in zip(fig.subplots(1, len(panels)), panels):
        limit = max(float(np.abs(array).max()), 1e-9)
        ax.imshow(array, cmap="RdBu_r", vmin=-limit, vmax=limit)
        for (r, c), v in np.ndenumerate(array):
            ax.text(c, r, f"{v:g}", ha="center", va="center", fontsize=8,
                    color="white" if abs(v) > 0.6 * limit else "black")
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    say_saved(save_figure(fig, path), "image, kernel, output and gradients")


def main() -> None:
    args = example_args("07_conv_by_hand", __doc__.splitlines()[0])
    show("Image (6x6)", IMAGE)
    show("Kernel (3x3, a vertical edge detector)", KERNEL)

    settings = [(1, 0), (2, 1)] if args.quick else [(1, 0), (1, 1), (2, 0), (2, 1)]
    for stride, padding in settings:
        out = conv2d(values(IMAGE, "x"), values(KERNEL, "k"), stride, padding)
        n = len(out)
        print(f"\nstride {stride}, padding {padding}: output {n}x{n} = "
              f"(6 + 2*{padding} - 3) // {stride} + 1")
        show("  output", data(out))

    # Backward through L = sum of all outputs (stride 1, no padding): every upstream grad is 1.
    image, kernel = values(IMAGE, "x"), values(KERNEL, "k")
    out = conv2d(image, kernel)
    loss = sum((v for row in out for v in row), Value(0.0))
    loss.backward()
    kernel_grad, image_grad = data(kernel, "grad"), data(image, "grad")
    print(f"\nL = sum of the 4x4 outputs = {format_number(loss.data)}")
    show("∂L/∂kernel (each = the sum of the 16 pixels that weight touched)", kernel_grad)
    show("∂L/∂image (each = the sum of the weights that touched the pixel)", image_grad)

    windows = np.lib.stride_tricks.sliding_window_view(IMAGE, (3, 3))
    ones = np.zeros((8, 8))
    ones[2:6, 2:6] = 1.0  # the upstream gradient (all ones), padded for the "full" convolution
    flipped = KERNEL[::-1, ::-1]
    full = np.array([[np.sum(ones[r:r + 3, c:c + 3] * flipped) for c in range(6)] for r in range(6)])
    print(f"numpy check: kernel grad {np.allclose(kernel_grad, windows.sum(axis=(0, 1)))}, "
          f"image grad = full convolution with the flipped kernel {np.allclose(image_grad, full)}")
    try:
        from microgradnn.tensor import Tensor, conv2d as tensor_conv2d
        x = Tensor(IMAGE[None, None], requires_grad=True, dtype=np.float64)
        w = Tensor(KERNEL[None, None], requires_grad=True, dtype=np.float64)
        tensor_conv2d(x, w).sum().backward()
        print(f"microgradnn.tensor.conv2d agrees: kernel grad {np.allclose(w.grad[0, 0], kernel_grad)}, "
              f"image grad {np.allclose(x.grad[0, 0], image_grad)}")
    except ImportError:  # the vectorized path is optional for this example
        pass

    print("\nPictures:")
    draw_grids([("image", IMAGE), ("kernel", KERNEL), ("output (stride 1)", data(out)),
                ("∂L/∂image", image_grad), ("∂L/∂kernel", kernel_grad)], args.out / "conv_grids.png")
    # One output pixel on its own, with stride 2 and padding 1: its window overlaps the border.
    kernel = values(KERNEL, "k")
    pixel = conv2d(values(IMAGE, "x"), kernel, stride=2, padding=1)[0][1]
    weights = [w for row in kernel for w in row]  # drawn as parameters, pixels as inputs
    pixel.backward()
    products = [node for node in _sum_terms(pixel)]
    on_border = sum(1 for p in products if any(o.label == "pad" for o in p.operands))
    print(f"  output pixel (0, 1) with stride 2, padding 1 = {format_number(pixel.data)}: "
          f"{len(products)} products, {on_border} of them with the zero border")
    save_graph(pixel, args.out / "one_output_pixel.svg", parameters=weights)
    if not args.quick:
        save_graph(pixel, args.out / "one_output_pixel.png", parameters=weights)


def _sum_terms(total: Value) -> List[Value]:
    """The products a chain of + nodes adds up, first to last."""
    terms = []
    while total.op == "+":
        total, last = total.operands
        terms.append(last)
    return [total] + terms[::-1]


if __name__ == "__main__":
    main()
