"""Example 2: one tanh neuron, and a page that steps through its backward pass.

    o = tanh(x1*w1 + x2*w2 + b)

The numbers are the classic ones (b chosen so that n = 0.8814 and o = 0.7071). The
walk-through prints every step of backprop; the HTML page shows the same steps on
the graph, one click at a time (open it in any browser, no server needed). Finally
tanh is rebuilt from exp, +, - and /: a different graph, the same gradients.

    python examples/02_neuron_stepper.py [--quick] [--out DIR]
"""

from __future__ import annotations

from _helpers import example_args, save_graph, say_saved

from microgradnn import Value, format_number
from viz import backprop_steps, format_walkthrough, save_stepper


def neuron(tanh_from_exp: bool = False):
    x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
    w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    x1w1 = x1 * w1
    x1w1.label = "x1*w1"
    x2w2 = x2 * w2
    x2w2.label = "x2*w2"
    total = x1w1 + x2w2
    total.label = "x1*w1 + x2*w2"
    n = total + b
    n.label = "n"
    if tanh_from_exp:
        e = (2 * n).exp()
        e.label = "e"
        o = (e - 1) / (e + 1)
    else:
        o = n.tanh()
    o.label = "o"
    return o, {"x1": x1, "x2": x2, "w1": w1, "w2": w2, "b": b, "n": n}


def main() -> None:
    args = example_args("02_neuron_stepper", __doc__.splitlines()[0])
    o, leaves = neuron()
    o.backward()
    print(f"o = tanh(n) = tanh({format_number(leaves['n'].data)}) = {format_number(o.data)}")
    print(f"∂o/∂n = 1 - o**2 = {format_number(1 - o.data ** 2)}")
    for name in ("x1", "w1", "x2", "w2", "b"):
        print(f"∂o/∂{name} = {format_number(leaves[name].grad)}")

    steps = backprop_steps(o)
    print(f"\nBackprop, step by step ({len(steps)} steps):")
    print(format_walkthrough(steps, show_forward=False))

    o2, leaves2 = neuron(tanh_from_exp=True)
    o2.backward()
    same = all(abs(leaves[k].grad - leaves2[k].grad) < 1e-12 for k in ("x1", "w1", "x2", "w2", "b"))
    print(f"\ntanh built from exp: o = {format_number(o2.data)}, "
          f"same gradients as the tanh node: {same}")

    print("\nPictures:")
    parameters = [leaves["w1"], leaves["w2"], leaves["b"]]
    page = save_stepper(o, str(args.out / "neuron_stepper.html"), forward=True,
                        title="One tanh neuron", parameters=parameters)
    say_saved(page, "open in a browser: step forward and backward through the passes")
    save_graph(o, args.out / "neuron.svg", parameters=parameters)
    save_graph(o2, args.out / "neuron_tanh_from_exp.svg",
               parameters=[leaves2["w1"], leaves2["w2"], leaves2["b"]])


if __name__ == "__main__":
    main()
