"""Example 4: a small MLP of scalar Values learns moons, circles and a spiral.

Every weight is a ``Value``; each training step builds the graph of the loss over all
points, backpropagates through it and nudges every weight against its gradient.
The pictures show the regions the network gives to each class as it ends up.

    python examples/04_toy_mlp.py [--quick] [--out DIR]
"""

from __future__ import annotations

import time

import numpy as np
from _helpers import example_args, say_saved
from tqdm import tqdm

from microgradnn import format_number
from microgradnn.datasets import make_circles, make_moons, make_spiral
from microgradnn.losses import cross_entropy, l2_penalty
from microgradnn.nn import MLP
from microgradnn.optim import SGD
from viz import mlp_predict_fn, plot_decision_boundary, plot_history, save_figure

# name: (data maker, hidden sizes, steps, learning rate)
PROBLEMS = {
    "moons": (make_moons, [16, 16], 80, 0.3),
    "circles": (make_circles, [16, 16], 80, 0.3),
    "spiral": (make_spiral, [24, 24], 200, 0.3),
}


def train(name: str, X: np.ndarray, y: np.ndarray, hidden, steps: int, lr: float):
    """Full-batch SGD with momentum on the softmax cross-entropy; returns model and history."""
    classes = int(y.max()) + 1
    model = MLP(2, hidden + [classes], activation="relu", seed=0)
    optimizer = SGD(model.parameters(), lr=lr, momentum=0.9)
    inputs, targets = X.tolist(), y.tolist()
    history = []
    for step in (bar := tqdm(range(steps), desc=name, leave=False)):
        scores = [model(x) for x in inputs]
        data_loss = cross_entropy(scores, targets)
        loss = data_loss + l2_penalty(model.parameters(), 1e-4)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        predicted = [max(range(classes), key=lambda c: s[c].data) for s in scores]
        accuracy = float(np.mean(np.array(predicted) == y))
        history.append({"epoch": step + 1, "train_loss": data_loss.data, "train_accuracy": accuracy})
        bar.set_postfix(loss=format_number(data_loss.data), acc=format_number(accuracy))
    return model, history


def main() -> None:
    args = example_args("04_toy_mlp", __doc__.splitlines()[0])
    for name, (make, hidden, steps, lr) in PROBLEMS.items():
        n = 60 if args.quick else (150 if name == "spiral" else 100)
        steps = max(10, steps // 12) if args.quick else steps
        X, y = make(n, seed=0)
        start = time.perf_counter()
        model, history = train(name, X, y, hidden, steps, lr)
        seconds = time.perf_counter() - start
        first, last = history[0], history[-1]
        print(f"{name}: {model}")
        print(f"  {steps} steps on {n} points in {seconds:.1f} s: loss "
              f"{format_number(first['train_loss'])} -> {format_number(last['train_loss'])}, "
              f"accuracy {format_number(first['train_accuracy'])} -> "
              f"{format_number(last['train_accuracy'])}")
        sizes = "-".join(str(s) for s in [2, *hidden, int(y.max()) + 1])
        boundary = plot_decision_boundary(mlp_predict_fn(model), X, y, title=f"{name}, MLP {sizes}")
        say_saved(save_figure(boundary, args.out / f"{name}_boundary.png"), "decision boundary")
        say_saved(save_figure(plot_history(history), args.out / f"{name}_curves.png"),
                  "loss and accuracy per step")


if __name__ == "__main__":
    main()
