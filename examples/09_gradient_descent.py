"""Example 9: gradient descent you can see, from one slope to a real network's landscape.

A network is a function of its 784 pixels; the cost wraps it into a function of its
13,002 weights and biases, one number for how lousy it is. Learning means finding
weights where that number is low. We cannot draw 13,002 dimensions, so we start small:

1. one input: the slope says whether to step left or right; the ball settles in a valley;
2. two inputs: the gradient points uphill the steepest way, its negative downhill;
3. the learning rate: too small crawls, too large flies out of the valley;
4. local versus global minimum: where the ball starts decides which valley it finds;
5. momentum and Adam: balls with inertia, and steps scaled per direction;
6. the real 784-16-16-10 network's cost on a plane through its weights, with the path
   its training took (needs MNIST).

    python examples/09_gradient_descent.py [--quick] [--out DIR] [--download]
"""

from __future__ import annotations

import math
import time

import numpy as np
from _helpers import example_args, mnist_or_exit, say_saved

import viz
from microgradnn import Value, format_number
from viz import save_figure
from viz.plots.descent import FUNCTIONS, evaluate, gradient


def cost_1d(w: Value) -> Value:
    """A cost of one weight with two valleys: the left one is deeper."""
    return (w ** 2 - 1) ** 2 + 0.3 * w


def one_input(args) -> None:
    print("1. One input: which way is downhill?")
    for start in (-0.3, 0.3):
        w = Value(start)
        cost = cost_1d(w)
        cost.backward()  # the slope ∂C/∂w at this w
        side = "left" if w.grad > 0 else "right"
        print(f"   at w = {start}: C = {format_number(cost.data)}, slope ∂C/∂w = "
              f"{format_number(w.grad)} ({'positive' if w.grad > 0 else 'negative'}: step {side})")
    paths = {f"start {s}": viz.descent_path(cost_1d, start=(s,), lr=0.05, steps=30)
             for s in (-0.3, 0.3)}
    for name, path in paths.items():
        end = path[-1, 0]
        print(f"   {name}: after 30 steps of 0.05 x slope the ball rests at w = "
              f"{format_number(end)}, C = {format_number(cost_1d(Value(end)).data)}")
    print("   Both are minima, the right one only a local one: descent finds *a* valley.")
    save_figure(viz.plot_descent(cost_1d, paths), args.out / "one_input.png")
    say_saved(args.out / "one_input.png", "the curve C(w), two balls and the slope at each start")


def two_inputs(args) -> None:
    print("\n2. Two inputs: the gradient is the direction of steepest ascent")
    point = (1.2, -1.6)
    cost, g = gradient("two-valleys", point)
    print(f"   two-valleys at (x, y) = {point}: C = {format_number(cost)}, gradient "
          f"({format_number(g[0])}, {format_number(g[1])}), "
          f"length {format_number(np.linalg.norm(g))}")
    # Try 360 directions of one small step each: which lowers C the most?
    h = 1e-3
    angles = np.radians(np.arange(360))
    steps = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    after = evaluate("two-valleys", point[0] + h * steps[:, 0], point[1] + h * steps[:, 1])
    best = steps[int(np.argmin(after))]
    down = -g / np.linalg.norm(g)
    angle = math.degrees(math.acos(float(np.clip(best @ down, -1, 1))))
    print(f"   of 360 directions, the step of length {h} that lowers C most is "
          f"{format_number(angle)} degrees from -gradient; C drops by {format_number(cost - after.min())} "
          f"(about length x slope = {format_number(h * np.linalg.norm(g))})")
    path = viz.descent_path("two-valleys", start=point, optimizer="sgd", lr=0.05, steps=60)
    save_figure(viz.plot_descent("two-valleys", {"sgd, lr 0.05": path}, show="both"),
                args.out / "two_inputs.png")
    say_saved(args.out / "two_inputs.png", "contours and surface, -gradient at the start")


def learning_rates(args) -> None:
    print("\n3. The learning rate: how far each step goes (step = lr x slope)")
    rates = {"too small": 0.01, "good": 0.15, "too large": 0.21}
    paths = {}
    for word, lr in rates.items():
        path = viz.descent_path("ravine", optimizer="sgd", lr=lr, steps=60)
        paths[f"lr {lr} ({word})"] = path
        c = evaluate("ravine", path[-1:, 0], path[-1:, 1])[0]
        print(f"   lr {lr} ({word}): after 60 steps C = {format_number(c)} at "
              f"({format_number(path[-1, 0])}, {format_number(path[-1, 1])})")
    print("   Across the ravine C = 5 y² curves 50 times more than along it: a step of "
          "lr x slope overshoots there once lr > 1/10, and grows each time once lr > 2/10.")
    save_figure(viz.plot_descent("ravine", paths), args.out / "learning_rates.png")
    say_saved(args.out / "learning_rates.png", "three learning rates on the ravine")


def minima(args) -> None:
    print("\n4. Local versus global minimum: the start decides")
    points = dict(FUNCTIONS["two-valleys"].points)
    starts = [(1.2, -1.6), (-1.5, 1.8), (0.4, 1.9), (1.8, 0.2)]
    paths = {}
    for start in starts:
        path = viz.descent_path("two-valleys", start=start, optimizer="sgd", lr=0.05, steps=120)
        found = min(("global minimum", "local minimum"),
                    key=lambda k: np.linalg.norm(path[-1] - np.array(points[k])))
        c = evaluate("two-valleys", path[-1:, 0], path[-1:, 1])[0]
        print(f"   from {start}: the {found}, C = {format_number(c)}")
        paths[f"from {start}"] = path
    print("   Nothing in the slope tells the ball that a deeper valley exists elsewhere.")
    save_figure(viz.plot_descent("two-valleys", paths), args.out / "local_global.png")
    say_saved(args.out / "local_global.png", "four starts, two valleys")


def momentum_and_adam(args) -> None:
    print("\n5. Momentum and Adam")
    names = ("sgd", "momentum", "adam")
    paths = {name: viz.descent_path("two-valleys", optimizer=name, lr=0.05) for name in names}
    for name, path in paths.items():
        c = evaluate("two-valleys", path[-1:, 0], path[-1:, 1])[0]
        print(f"   two-valleys, {name} (lr 0.05): ends at ({format_number(path[-1, 0])}, "
              f"{format_number(path[-1, 1])}), C = {format_number(c)}")
    print("   SGD stops in the nearer, shallower valley; momentum (a ball with inertia, "
          "v = 0.9 v + gradient) rolls over the ridge into the deeper one.")
    sgd = viz.descent_path("ravine", optimizer="sgd", lr=0.18)
    rolled = viz.descent_path("ravine", optimizer="momentum", lr=0.018)

    def turns(path: np.ndarray) -> int:
        """How many steps turn back (more than 90 degrees) from the step before."""
        steps = np.diff(path, axis=0)
        return int(np.sum(np.sum(steps[1:] * steps[:-1], axis=1) < 0))

    print(f"   ravine: SGD (lr 0.18) turns back {turns(sgd)} times in 60 steps; momentum "
          f"(lr 0.018: the same top speed, lr / (1 - 0.9) x slope) {turns(rolled)} times")
    save_figure(viz.plot_descent("two-valleys", paths, show="both"), args.out / "optimizers.png")
    say_saved(args.out / "optimizers.png", "sgd, momentum and adam from one start")
    save_figure(viz.plot_descent("ravine", {"sgd, lr 0.18": sgd, "momentum, lr 0.018": rolled}),
                args.out / "ravine.png")
    say_saved(args.out / "ravine.png", "zig-zag against rolling")
    steps = 20 if args.quick else 60
    gif_paths = {name: p[:steps + 1] for name, p in paths.items()}
    started = time.perf_counter()
    viz.save_descent_animation("two-valleys", gif_paths, args.out / "descent.gif")
    say_saved(args.out / "descent.gif", f"{steps + 1} frames, one a step, "
              f"{time.perf_counter() - started:.1f} s to make")


def real_network(args) -> None:
    print("\n6. The real network: 13,002 inputs, one cost")
    from microgradnn.models import build_model
    from microgradnn.optim import SGD
    from microgradnn.snapshots import WeightSnapshots
    from microgradnn.training import evaluate as accuracy_of, fit

    (train_x, train_y), (test_x, test_y) = mnist_or_exit(args.download)
    n_train, epochs, n_test, grid = (5000, 2, 500, 21) if args.quick else (60000, 3, 2000, 41)
    train_x, train_y, test_x, test_y = train_x[:n_train], train_y[:n_train], test_x[:n_test], \
        test_y[:n_test]
    model = build_model({"model": "mlp", "hidden": [16, 16], "activation": "sigmoid", "seed": 0})
    print(f"   MLP 784-16-16-10: {model.num_parameters()} parameters, so the cost is a function "
          f"of {model.num_parameters()} numbers")
    per_epoch = -(-n_train // 32)
    snapshots = WeightSnapshots(model, 21, per_epoch * epochs, per_epoch)
    fit(model, SGD(model.parameters(), lr=0.5 if args.quick else 0.1), (train_x, train_y),
        epochs, 32, seed=0, progress=not args.quick, on_step=snapshots)
    accuracy, _ = accuracy_of(model, test_x, test_y)
    print(f"   trained {epochs} epochs on {n_train} digits: test accuracy "
          f"{format_number(accuracy)}; {len(snapshots.steps)} weight snapshots on the way")

    started = time.perf_counter()
    land = viz.loss_landscape(model, test_x, test_y, span=1.0, steps=grid, seed=0)
    seconds = time.perf_counter() - started
    print(f"   random filter-normalised plane, {grid}x{grid} grid on {n_test} test digits "
          f"({seconds:.1f} s): cost {format_number(land.center_cost)} at the trained weights, "
          f"up to {format_number(land.costs.max())} at the edge")
    save_figure(viz.plot_landscape(land), args.out / "landscape_random.png")
    say_saved(args.out / "landscape_random.png", "the cost around the trained weights")

    path = viz.training_path(snapshots.result(), model)
    land = viz.loss_landscape(model, test_x, test_y, span=path.span, steps=grid, directions=path)
    print(f"   the training path's own plane: its two main directions hold "
          f"{path.explained[0]:.1%} + {path.explained[1]:.1%} of how the weights moved; on it "
          f"the cost went {format_number(land.path_costs[0])} -> "
          f"{format_number(land.path_costs[-1])}")
    save_figure(viz.plot_landscape(land), args.out / "landscape_path.png")
    say_saved(args.out / "landscape_path.png", "the path training took, on the cost surface")


def main() -> None:
    args = example_args("09_gradient_descent", __doc__.splitlines()[0], mnist=True)
    one_input(args)
    two_inputs(args)
    learning_rates(args)
    minima(args)
    momentum_and_adam(args)
    real_network(args)


if __name__ == "__main__":
    main()
