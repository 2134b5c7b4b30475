"""Example 1: one expression of Values, its backward pass, and its graph.

    L = (a * b + c) * f      with a = 2, b = -3, c = 10, f = -2

Forward computes L. Backward fills in ∂L/∂x for every x, walking the graph from L
back to the leaves and multiplying local derivatives (the chain rule). We check
one of them by nudging a and watching L move.

    python examples/01_value.py [--out DIR]
"""

from __future__ import annotations

from _helpers import example_args, save_graph

from microgradnn import Value, format_number


def main() -> None:
    args = example_args("01_value", __doc__.splitlines()[0])

    a = Value(2.0, label="a")
    b = Value(-3.0, label="b")
    c = Value(10.0, label="c")
    f = Value(-2.0, label="f")
    e = a * b
    e.label = "e"
    d = e + c
    d.label = "d"
    L = d * f
    L.label = "L"

    print("Forward pass:")
    for v in (a, b, c, f, e, d, L):
        print(f"  {v.label} = {format_number(v.data)}")

    L.backward()
    print("\nBackward pass (∂L/∂x for every x):")
    for v in (L, d, f, e, c, a, b):
        print(f"  ∂L/∂{v.label} = {format_number(v.grad)}")

    print("\nThe chain rule, step by step, for a:")
    print(f"  ∂L/∂d = f = {format_number(f.data)}")
    print(f"  ∂L/∂e = ∂L/∂d * ∂d/∂e = {format_number(d.grad)} * 1 = {format_number(e.grad)}")
    print(f"  ∂L/∂a = ∂L/∂e * ∂e/∂a = {format_number(e.grad)} * b "
          f"= {format_number(e.grad)} * {format_number(b.data)} = {format_number(a.grad)}")

    h = 1e-6
    nudged = ((a.data + h) * b.data + c.data) * f.data
    slope = (nudged - L.data) / h
    print(f"\nCheck by nudging a by h = {h:g}: (L(a + h) - L(a)) / h = {format_number(slope)}"
          f"  (backprop said {format_number(a.grad)})")

    print("\nPictures:")
    save_graph(L, args.out / "graph.svg", parameters=[])
    save_graph(L, args.out / "graph.png", parameters=[])


if __name__ == "__main__":
    main()
