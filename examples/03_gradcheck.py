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


def show_h(h: float) -> str:
    """1e-06 for a power of ten, 1.8e-06 in between."""
    decade = abs(math.log10(h) - round(math.log10(h))) < 1e-9
    return f"{h:.0e}" if decade else f"{h:.1e}"


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
    per_decade = 1 if args.quick else 4
    steps = np.logspace(-1, -12, 11 * per_decade + 1)  # 1e-1 ... 1e-12, every power of ten included
    errors = np.array([abs(numerical_gradient(f, inputs, h=float(h))[0] - exact) for h in steps])
    best = int(np.argmin(errors))
    print("\nHow the step h matters (d/dx of tanh(x*y + exp(y))):")
    for i, (h, err) in enumerate(zip(steps, errors)):
        if i % per_decade == 0 or i == best:  # each power of ten, and the best h measured
            print(f"  h = {show_h(h)}   |finite difference - backprop| = {err:.2e}"
                  + ("   <- best h here" if i == best else ""))
    print(f"  best h here: {show_h(steps[best])} (error {errors[best]:.2e}); larger h: truncation "
          f"error (~h**2) wins, smaller h: rounding error (~1e-16/h) wins")

    print("\nA home-made sin op with a wrong local derivative:")
    try:
        gradcheck(lambda x: wrong_sin(x) * x, [0.5])
        print("  not caught (this should not happen)")
    except GradcheckError as error:
        print(f"  caught: {error}")

    fig = new_figure(6.4, 4.4)
    ax = fig.add_subplot()
    shown = np.maximum(errors, 1e-17)  # an error of exactly 0 cannot sit on a log axis
    h_best = steps[best]
    ax.axvspan(steps.min(), h_best, color="tab:orange", alpha=0.12)
    ax.axvspan(h_best, steps.max(), color="tab:blue", alpha=0.12)
    ax.loglog(steps, shown, marker="o", markersize=3, color="black", label="measured error")
    # Guide lines fitted (in log space) to the points on each side of the best h: the two laws.
    large, small = steps > h_best, steps < h_best
    c_trunc = np.exp(np.mean(np.log(shown[large] / steps[large] ** 2)))
    c_round = np.exp(np.mean(np.log(shown[small] * steps[small])))
    ax.loglog(steps[steps >= h_best], c_trunc * steps[steps >= h_best] ** 2, "--", color="tab:blue",
              label="truncation error, ~ h² (fitted)")
    ax.loglog(steps[steps <= h_best], c_round / steps[steps <= h_best], "--", color="tab:orange",
              label="rounding error, ~ 1/h (fitted)")
    ax.axvline(h_best, color="gray", linewidth=1)
    ax.text(h_best * 1.3, shown.min() / 4, f"best h = {show_h(h_best)}", ha="left", va="center",
            fontsize=9)
    top = shown.max() * 3
    ax.text(np.sqrt(steps.min() * h_best), top, "h too small:\nrounding wins", ha="center",
            va="top", fontsize=9, color="tab:orange")
    ax.text(np.sqrt(h_best * steps.max()), top, "h too large:\ntruncation wins", ha="center",
            va="top", fontsize=9, color="tab:blue")
    ax.set_ylim(shown.min() / 10, top * 1.5)
    ax.set_xlabel("step h (small to large)")
    ax.set_ylabel("|finite difference - backprop|")
    ax.set_title("Finite differences of d/dx tanh(x*y + exp(y)):\ntruncation vs rounding error")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    print("\nPictures:")
    say_saved(save_figure(fig, args.out / "step_size.png"), "error against the step h")


if __name__ == "__main__":
    main()
