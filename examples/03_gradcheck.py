"""Example 3: derivatives by finite differences against backprop (gradient checking).

Backprop gives every derivative in one backward pass. Finite differences give one
derivative per two extra forward passes, (f(x + h) - f(x - h)) / 2h, and are easy to
trust, so they are the standard test of a backprop implementation. We compare the two
on a few functions, see how the step h matters, and catch a deliberately wrong op.

    python examples/03_gradcheck.py [--quick] [--out DIR]
"""

from __future__ import annotations

import math

import numpy as np
from _helpers import example_args, say_saved

from microgradnn import GradcheckError, Value, format_number, gradcheck, numerical_gradient
from viz.plots.common import new_figure, save_figure

FUNCTIONS = {
    "x**3 - 2x": (lambda x: x ** 3 - 2 * x, [1.5]),
    "tanh(x*y + exp(y))": (lambda x, y: (x * y + y.exp()).tanh(), [0.3, -0.8]),
    "sigmoid neuron": (lambda w, x, b: (w * x + b).sigmoid(), [-1.2, 0.7, 0.4]),
    "x / (1 + y**2)": (lambda x, y: x / (1 + y ** 2), [2.0, -1.5]),
}


def wrong_sin(x: Value) -> Value:
    """A home-made op with a bug: the local derivative of sin(x) should be cos(x)."""
    return Value(math.sin(x.data), op="sin", operands=(x,), local_grads=(math.sin(x.data),))


def main() -> None:
    args = example_args("03_gradcheck", __doc__.splitlines()[0])

    print("Backprop against central differences (h = 1e-6):")
    for name, (f, inputs) in FUNCTIONS.items():
        result = gradcheck(f, inputs)
        print(f"  {name}")
        for i, (a, n) in enumerate(zip(result.analytic, result.numeric)):
            print(f"    d/dx{i}: backprop {format_number(a)}   finite difference {format_number(n)}")
        print(f"    largest difference: {result.max_abs_error:.2e}")

    # Too large an h: the slope of a secant, not of the tangent (error ~ h**2).
    # Too small an h: f(x + h) - f(x - h) loses its digits to rounding (error ~ 1e-16 / h).
    f, inputs = FUNCTIONS["tanh(x*y + exp(y))"]
    exact = gradcheck(f, inputs).analytic[0]
    steps = np.logspace(-1, -12, 12 if args.quick else 45)
    errors = [abs(numerical_gradient(f, inputs, h=float(h))[0] - exact) for h in steps]
    best = int(np.argmin(errors))
    print("\nHow the step h matters (d/dx of tanh(x*y + exp(y))):")
    for h, err in list(zip(steps, errors))[:: max(1, len(steps) // 6)]:
        print(f"  h = {h:.0e}   |finite difference - backprop| = {err:.2e}")
    print(f"  best h here: {steps[best]:.0e} (error {errors[best]:.2e})")

    print("\nA home-made sin op with a wrong local derivative:")
    try:
        gradcheck(lambda x: wrong_sin(x) * x, [0.5])
        print("  not caught (this should not happen)")
    except GradcheckError as error:
        print(f"  caught: {error}")

    fig = new_figure(5.5, 4.0)
    ax = fig.add_subplot()
    ax.loglog(steps, np.maximum(errors, 1e-17), marker="o", markersize=3)
    ax.set_xlabel("step h")
    ax.set_ylabel("|finite difference - backprop|")
    ax.set_title("Finite differences: truncation vs rounding error")
    ax.invert_xaxis()
    ax.grid(True, which="both", alpha=0.3)
    print("\nPictures:")
    say_saved(save_figure(fig, args.out / "step_size.png"), "error against the step h")


if __name__ == "__main__":
    main()
