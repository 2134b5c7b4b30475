"""The README's pictures, all made by one command: ``make pictures`` (this script).

    python docs/make_pictures.py [--out DIR] [--quick]

writes into ``DIR`` (default: ``docs/``, next to this script):

1. ``neuron_graph.svg``: the tour's tanh neuron ``(x*w + b).tanh()`` after ``backward()``.
2. ``stepper.png``: that neuron's backprop stepper page, photographed in headless chromium
   at its third step (needs the OS's chromium and the ``playwright`` package), and
   ``backprop.gif``: the same steps as an animation (``viz.save_animation``).
3. ``mnist_network.svg``: the classic 784-16-16-10 sigmoid MLP after one epoch on MNIST,
   with the gradients of one test digit's loss.
4. ``mnist_weights.png``: what each first-layer neuron of that network looks for.
5. ``mnist_stepper.png``: that test digit's backward pass stepped one neuron at a time
   (the stepper's neuron level), photographed at a neuron of layer 1.

MNIST is read as everywhere (``MICROGRADNN_DATA``, then the cache; never downloaded here).
``--quick`` trains on 2,000 digits instead of 60,000 (for the test that this command runs).
A picture that cannot be made is named with the reason, and the exit status is 1.
Only the public ``viz`` API is used.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List


import viz
from microgradnn import Value
from microgradnn.fileio import write_atomic

DOCS = Path(__file__).resolve().parent
SEED = 0
STEPPER_STEP = 3  # the step photographed: backward through x*w + b, two gradients at once
MNIST_STEP = 30  # the MNIST sample's step photographed: a neuron of layer 1, δ = ∂C/∂a * σ'(z)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def tour_neuron() -> Value:
    """The README tour's neuron, after backward(): o = tanh(x*w + b)."""
    x, w, b = Value(2.0, label="x"), Value(-3.0, label="w"), Value(6.8813735870195432, label="b")
    o = (x * w + b).tanh()
    o.label = "o"
    o.backward()
    return o


def write_svg(graph, path: Path) -> None:
    write_atomic(path, graph.pipe(format="svg"))


def neuron_graph(out: Path, quick: bool) -> List[Path]:
    path = out / "neuron_graph.svg"
    write_svg(viz.draw_graph(tour_neuron(), title="o = tanh(x*w + b) after o.backward()"), path)
    return [path]


def chromium_path() -> str:
    found = os.environ.get("MICROGRADNN_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(found).exists():
        raise RuntimeError(f"chromium not found ({found}): apt-get install chromium, "
                           f"or set MICROGRADNN_CHROMIUM")
    return found


@contextmanager
def browser_page(width: int, height: int) -> Iterator[Any]:
    """A page of headless chromium (the OS's, ``chromium_path``) at ``width`` x ``height``,
    closed on leaving: every picture script and the 2-D playground's benchmark open theirs so."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise RuntimeError("the playwright package is not installed "
                           "(pip install playwright; its own browser download is not needed)") from None
    executable = chromium_path()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": width, "height": height})
        finally:
            browser.close()


def photograph(page_path: Path, steps_forward: int, width: int = 1100, height: int = 640,
               click: str = "") -> bytes:
    """A PNG of the stepper page ``page_path`` after ``steps_forward`` presses of the right
    arrow (the page opens on step 1), and a click on the element ``click`` if given."""
    with browser_page(width, height) as page:
        page.goto(page_path.as_uri())
        for _ in range(steps_forward):
            page.keyboard.press("ArrowRight")  # the page's own key for "next step"
        if click:
            page.click(click)
        return page.screenshot(full_page=False)


def stepper(out: Path, quick: bool) -> List[Path]:
    path = out / "stepper.png"
    with tempfile.TemporaryDirectory() as folder:
        page_path = Path(folder) / "neuron.html"
        viz.save_stepper(tour_neuron(), str(page_path), title="o = tanh(x*w + b)")
        png = photograph(page_path, STEPPER_STEP - 1)  # the page opens on step 1
    write_atomic(path, png)
    gif = out / "backprop.gif"
    viz.save_animation(tour_neuron(), str(gif), progress=False)
    return [path, gif]


def mnist_pictures(out: Path, quick: bool) -> List[Path]:
    from microgradnn.datasets.mnist import MnistUnavailableError, load_mnist
    from microgradnn.models import build_model
    from microgradnn.optim import SGD
    from microgradnn.training import fit

    try:
        images, labels = load_mnist("train", download=False, progress=False)
        test_images, test_labels = load_mnist("test", download=False, progress=False)
    except MnistUnavailableError as error:
        raise RuntimeError(f"MNIST is not on this machine (set MICROGRADNN_DATA): {error}") from None
    if quick:
        images, labels = images[:2000], labels[:2000]
    spec = {"model": "mlp", "hidden": [16, 16], "activation": "sigmoid", "seed": SEED}
    model = build_model(spec)
    fit(model, SGD(model.parameters(), lr=0.5), (images, labels), epochs=1, batch_size=32,
        seed=SEED, spec=spec, progress=False)
    trained_on = f"one epoch on {len(images):,} MNIST digits"

    weights_path = out / "mnist_weights.png"
    figure = viz.plot_weight_images(model.state_dict()["0.weight"],
                                    title=f"What each first-layer neuron looks for\n"
                                          f"784-16-16-10 sigmoid, {trained_on}")
    viz.save_figure(figure, weights_path)

    # The README's promise: that network, one test digit, stepped one neuron at a time
    # (the same weights in the scalar engine, the model's own cost backpropagated).
    digit, label = test_images[0], int(test_labels[0])
    page = viz.step_digit(model, digit, label, image_name=f"One test digit (a {label})")
    scalar = page.backward.mlp
    stepper_path = out / "mnist_stepper.png"
    with tempfile.TemporaryDirectory() as folder:
        page_path = Path(folder) / "mnist.html"
        page.save(str(page_path))
        # step 1 is the seed, 2 the cost, 3..12 layer 3, 13..28 layer 2, 29..44 layer 1
        png = photograph(page_path, MNIST_STEP - 1, width=1280, height=900)
    write_atomic(stepper_path, png)
    network_path = out / "mnist_network.svg"
    write_svg(viz.draw_network(scalar, output_names=[str(d) for d in range(10)],
                               title=f"MLP 784-16-16-10 after {trained_on}; gradients "
                                             f"of the loss of one test digit (a {label})"),
              network_path)
    return [weights_path, network_path, stepper_path]


PICTURES: Dict[str, Callable[[Path, bool], List[Path]]] = {
    "graph": neuron_graph,
    "stepper": stepper,
    "mnist": mnist_pictures,
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Write the README's pictures.")
    parser.add_argument("--out", type=Path, default=DOCS, help="folder for the pictures (default: docs/)")
    parser.add_argument("--quick", action="store_true",
                        help="train on 2,000 digits instead of 60,000 (to test this command)")
    args = parser.parse_args(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")
    args.out.mkdir(parents=True, exist_ok=True)
    failed = []
    for name, make in PICTURES.items():
        start = time.perf_counter()
        try:
            written = make(args.out, args.quick)
        except RuntimeError as error:
            failed.append(name)
            print(f"not made: {name}: {error}")
            continue
        for path in written:
            print(f"wrote {path} ({path.stat().st_size / 1024:.0f} kB, "
                  f"{time.perf_counter() - start:.1f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
