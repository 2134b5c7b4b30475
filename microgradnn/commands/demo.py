"""``microgradnn demo``: the README's main command, end to end on built-in data.

1. Train ``MLP(2, [16, 16, 1])`` on 100 moons points with the scalar engine
   (micrograd's demo: hinge loss + L2, SGD) and print the accuracy.
2. Write the pictures: decision boundary, training curve, the graph of one sample's
   loss, and the backprop stepper (HTML) of that loss.
3. If MNIST is on disk, train the classic 784-16-16-10 network for one epoch with
   the vectorized path; if not, say how to get it (and still succeed).
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
import warnings
from pathlib import Path
from typing import List

from . import seed_value
from ..engine import format_number
from ..fileio import write_atomic

# numpy, the nn, the data and viz are imported inside the handlers: `microgradnn graph --help`
# builds this parser too and should not pay for them.
__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo", help="train a small MLP on moons, draw it, step through backprop (and MNIST if present)",
        description="Train MLP 2-16-16-1 on 100 moons points with the scalar engine, write its "
                    "pictures (decision boundary, training curve, the graph and backprop stepper "
                    "of one sample's loss, the network), then train the classic 784-16-16-10 "
                    "network on MNIST for one epoch if the files are on this machine.")
    parser.add_argument("--out", default="microgradnn_out", help="folder for the pictures (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=100, help="training steps on moons (default: %(default)s)")
    parser.add_argument("--seed", type=seed_value, default=0, help="seed for data and weights (default: %(default)s)")
    parser.add_argument("--no-mnist", action="store_true", help="skip the MNIST part")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(handler=run)


def _moons(args: argparse.Namespace, out: Path, written: List[str]) -> None:
    import numpy as np

    import viz
    from ..datasets import make_moons
    from ..nn import MLP
    from ..toy_training import sample_loss, train_hinge_classifier

    X, y = make_moons(100, noise=0.1, seed=args.seed)
    model = MLP(2, [16, 16, 1], seed=args.seed, init="unit")
    print(f"1. Training MLP 2-16-16-1 ({model.num_parameters()} parameters) on 100 moons points "
          f"with the scalar engine")
    print("   (micrograd's demo: hinge loss + 1e-4 L2, SGD, learning rate 1.0 falling to 0.1)")

    # Pictures of one sample's loss are drawn at the first step, while its gradients are
    # still large: after training every point is past the margin and its hinge loss is 0.
    loss = sample_loss(model, X[0].tolist(), int(y[0]))
    loss.backward()
    has_dot = shutil.which("dot") is not None
    if not has_dot:
        print("   graphviz's `dot` is not installed: graph pictures are written as DOT text and the\n"
              "   backprop steppers are skipped (apt-get install graphviz / brew install graphviz)")
    title = f"hinge loss of one moons sample (label {int(y[0])}), untrained network"
    # The full graph of one sample has ~400 values; one node per neuron keeps it readable.
    _render(viz.draw_graph(loss, group="neuron", collapse=True, title=title, parameters=model),
            out / "moons_sample_graph.svg", written,
            "how gradients flow through one sample's loss")
    if has_dot:  # the steppers lay their graph out with dot once
        viz.save_stepper(loss, str(out / "moons_sample_backprop.html"), title=title,
                         hide_constants=True, parameters=model)
        written.append("moons_sample_backprop.html    step through backprop of one sample's loss")
        neuron_x, neuron_w, neuron_b = _tanh_neuron()
        neuron = (neuron_x * neuron_w + neuron_b).tanh()
        neuron.backward()
        viz.save_stepper(neuron, str(out / "neuron_backprop.html"), title="tanh(x*w + b)",
                         parameters=[neuron_w, neuron_b])
        written.append("neuron_backprop.html          step through backprop of a tanh neuron")
    model.zero_grad()

    start = time.perf_counter()
    history = train_hinge_classifier(model, X, y, steps=args.steps, progress=not args.quiet)
    seconds = time.perf_counter() - start
    scores = viz.mlp_predict_fn(model)(X)
    accuracy = float(np.mean((scores > 0) == (y == 1)))
    print(f"   {args.steps} steps in {seconds:.1f} s: loss {format_number(history[-1]['loss'])}, "
          f"accuracy {accuracy:.0%}")

    print("2. Pictures")
    viz.save_figure(viz.plot_decision_boundary(viz.mlp_predict_fn(model), X, y,
                                               title="MLP 2-16-16-1 on moons"),
                    out / "moons_decision_boundary.png")
    written.append("moons_decision_boundary.png   what the network learned")
    curve = [{"step": h["step"], "train_loss": h["loss"], "train_accuracy": h["accuracy"]}
             for h in history]
    viz.save_figure(viz.plot_history(curve, x_key="step"), out / "moons_training.png")
    written.append("moons_training.png            loss and accuracy per step")
    model.zero_grad()
    _render(viz.draw_network(model), out / "moons_network.svg", written,
            "the trained network: weights by sign and size")


def _render(graph, path: Path, written: List[str], what: str) -> None:
    """Write ``graph`` as SVG, or its DOT text (and why) when graphviz's dot is missing."""
    import viz
    from viz.graph.dot import render

    try:
        render(graph, str(path))
        written.append(f"{path.name:<30}{what}")
    except viz.GraphvizNotFoundError as error:
        dot_path = path.with_suffix(".dot")
        write_atomic(dot_path, graph.source)
        written.append(f"{dot_path.name:<30}{what} (DOT text only: {error})")


def _tanh_neuron():
    from ..engine import Value

    return Value(2.0, label="x"), Value(-3.0, label="w"), Value(6.8813735870195432, label="b")


def _mnist(args: argparse.Namespace, out: Path, written: List[str]) -> None:
    from ..datasets.mnist import MnistUnavailableError, load_mnist

    print("3. MNIST: the classic 784-16-16-10 network, one epoch")
    try:
        train = load_mnist("train", download=False, progress=False)
        test = load_mnist("test", download=False, progress=False)
    except MnistUnavailableError:
        print("   MNIST is not on this machine, so this part is skipped. To get it, either run\n"
              "     python -c \"from microgradnn.datasets.mnist import load_mnist; load_mnist('train'); "
              "load_mnist('test')\"\n"
              "   (downloads about 11 MB into your cache), or point MICROGRADNN_DATA at a folder\n"
              "   holding the four IDX files (train-images-idx3-ubyte.gz and friends).")
        return
    import viz
    from ..models import build_model
    from ..optim import SGD
    from ..training import evaluate, fit

    spec = {"model": "mlp", "hidden": [16, 16], "activation": "sigmoid"}
    model = build_model(spec)
    start = time.perf_counter()
    fit(model, SGD(model.parameters(), lr=0.5), train, epochs=1, batch_size=32, seed=args.seed,
        spec=spec, progress=not args.quiet)
    seconds = time.perf_counter() - start
    accuracy, _ = evaluate(model, *test)
    print(f"   one epoch over 60,000 images in {seconds:.1f} s: test accuracy {accuracy:.2%}")
    weights = model.state_dict()["0.weight"]
    viz.save_figure(viz.plot_weight_images(weights), out / "mnist_first_layer_weights.png")
    written.append("mnist_first_layer_weights.png what each hidden neuron of the MNIST MLP looks for")


def run(args: argparse.Namespace) -> int:
    if args.steps < 1:
        raise ValueError(f"--steps must be a positive integer, got {args.steps}")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    written: List[str] = []
    os.environ.setdefault("MPLBACKEND", "Agg")
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        _moons(args, out, written)
        if args.no_mnist:
            print("3. MNIST: skipped (--no-mnist)")
        else:
            _mnist(args, out, written)
    print(f"\nWrote to {out.resolve()}/:")
    for line in written:
        print(f"  {line}")
    print("Open the .html files in a browser (no server needed); the pictures in any viewer.")
    return 0
