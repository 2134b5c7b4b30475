"""Backprop steps (viz.steps.backprop) against hand-computed values and the engine's own grads."""

from __future__ import annotations

import math

import pytest

from microgradnn.autodiff import topological_order
from microgradnn.engine import Value
from microgradnn.nn import MLP
from viz.steps.backprop import backprop_steps, format_walkthrough, node_names
from viz.graph.trace import trace

B_NEURON = 6.8813735870195432  # makes x*w + b = atanh(1/sqrt(2)), so o = 0.7071 and 1 - o^2 = 0.5


def neuron():
    x, w, b = Value(2.0, label="x"), Value(-3.0, label="w"), Value(B_NEURON, label="b")
    o = (x * w + b).tanh()
    o.label = "o"
    return x, w, b, o


def final_grads(steps):
    """Gradient per node id after the last step that touched it."""
    grads = {}
    for step in steps:
        if step.kind == "seed":
            grads[step.node_id] = step.upstream
        for term in step.terms:
            grads[term.operand_id] = term.grad_after
    return grads


def engine_grads(root):
    """Gradients of one fresh backward() by id: zero everything first."""
    order = topological_order(root)
    for v in order:
        v.grad = 0.0
    root.backward()
    ids = {id(v): f"v{i}" for i, v in enumerate(order)}
    return {ids[id(v)]: v.grad for v in order}


def test_neuron_steps_hand_computed():
    x, w, b, o = neuron()
    steps = backprop_steps(o)
    assert [s.kind for s in steps] == ["seed", "backward", "backward", "backward"]
    assert [s.node_name for s in steps] == ["o", "o", "x*w + b", "x*w"]
    seed, through_tanh, through_add, through_mul = steps
    assert str(seed) == "∂o/∂o = 1.0000"

    (t,) = through_tanh.terms
    assert t.local_grad == pytest.approx(0.5, abs=1e-12)  # 1 - tanh^2 at atanh(1/sqrt 2)
    assert (t.upstream, t.grad_before) == (1.0, 0.0)
    assert t.contribution == pytest.approx(0.5, abs=1e-12)
    assert str(t) == "∂o/∂(x*w + b) += (1 - o²) * ∂o/∂o = 0.5000 * 1.0000 = 0.5000"

    assert [term.operand_name for term in through_add.terms] == ["x*w", "b"]
    assert [term.local_grad for term in through_add.terms] == [1.0, 1.0]
    assert [term.grad_after for term in through_add.terms] == pytest.approx([0.5, 0.5])

    tx, tw = through_mul.terms
    assert (tx.operand_name, tx.local_grad, tx.local_text) == ("x", -3.0, "w")
    assert (tw.operand_name, tw.local_grad, tw.local_text) == ("w", 2.0, "x")
    assert tx.grad_after == pytest.approx(-1.5)
    assert tw.grad_after == pytest.approx(1.0)
    assert str(through_mul) == ("∂o/∂x += w * ∂o/∂(x*w) = (-3.0000) * 0.5000 = -1.5000\n"
                                "∂o/∂w += x * ∂o/∂(x*w) = 2.0000 * 0.5000 = 1.0000")
    assert through_mul.edge_ids == ("e0", "e1")


def test_example_term_format_from_issue():
    w, x, c = Value(3.0, label="w"), Value(0.5, label="x"), Value(-1.2, label="c")
    o = w * x
    o.label = "o"
    loss = o * c
    steps = backprop_steps(loss)
    lines = [str(t) for s in steps for t in s.terms]
    assert "∂L/∂w += x * ∂L/∂o = 0.5000 * (-1.2000) = -0.6000" in lines


def test_a_times_a_accumulates_in_one_step():
    a = Value(3.0, label="a")
    square = a * a
    steps = backprop_steps(square)
    assert [s.kind for s in steps] == ["seed", "backward"]
    first, second = steps[1].terms
    assert first.operand_id == second.operand_id == "v0"
    assert (first.slot, second.slot) == (0, 1)
    assert (first.grad_before, first.grad_after) == (0.0, 3.0)
    assert (second.grad_before, second.grad_after) == (3.0, 6.0)
    assert first.edge_id != second.edge_id
    assert final_grads(steps)["v0"] == engine_grads(square)["v0"] == 6.0


@pytest.mark.parametrize("fused", [False, True])
def test_two_layer_mlp_one_sample_hand_computed(fused):
    model = MLP(2, [2, 1], activation="tanh", fused=fused, seed=0)
    xs, target = [0.5, -1.0], 0.25
    y = model([Value(xs[0], label="x0"), Value(xs[1], label="x1")])
    loss = (y - target) ** 2
    steps = backprop_steps(loss)
    grads = final_grads(steps)
    by_value = {id(n.value): n.id for n in trace(loss).nodes}

    # By hand: h_i = tanh(W_i . x + b_i); y = v . h + c; L = (y - t)^2.
    hidden, out = model.layers
    h = [math.tanh(sum(w.data * xj for w, xj in zip(n.w, xs)) + n.b.data) for n in hidden.neurons]
    v = out.neurons[0].w
    y_hand = sum(vi.data * hi for vi, hi in zip(v, h)) + out.neurons[0].b.data
    assert y.data == pytest.approx(y_hand, abs=1e-12)
    dy = 2.0 * (y_hand - target)
    assert grads[by_value[id(out.neurons[0].b)]] == pytest.approx(dy, abs=1e-12)
    for i, neuron in enumerate(hidden.neurons):
        assert grads[by_value[id(v[i])]] == pytest.approx(dy * h[i], abs=1e-12)
        dz = dy * v[i].data * (1.0 - h[i] ** 2)
        assert grads[by_value[id(neuron.b)]] == pytest.approx(dz, abs=1e-12)
        for w, xj in zip(neuron.w, xs):
            assert grads[by_value[id(w)]] == pytest.approx(dz * xj, abs=1e-12)
    # And exactly the engine's numbers: the same multiplications in the same order.
    assert grads == {k: g for k, g in engine_grads(loss).items() if k in grads}


@pytest.mark.parametrize("build", [
    lambda v: ((v["x"] * v["w"] + v["b"]).tanh() - 1) ** 2 / 2,
    lambda v: (-v["x"]).exp().log() + v["x"].sigmoid().relu() - (v["x"] - (v["w"] - v["b"])),
    lambda v: 2 ** v["x"] + v["x"] ** v["w"] + v["x"] / v["b"] + v["x"] * v["x"] * v["x"],
])
def test_final_grads_equal_engine_exactly(build):
    leaves = {"x": Value(1.3, label="x"), "w": Value(-0.7, label="w"), "b": Value(0.4, label="b")}
    root = build(leaves)
    steps = backprop_steps(root)
    grads = final_grads(steps)
    expected = engine_grads(root)
    assert grads == {k: g for k, g in expected.items() if k in grads}
    # every node except isolated ones received a gradient
    assert set(grads) == set(expected)


def test_steps_use_stored_local_derivatives_not_calculus():
    a = Value(2.0, label="a")
    # An op the viz has never heard of, whose stored derivative is deliberately odd.
    strange = Value(5.0, label="f", op="mystery", operands=(a,), local_grads=(7.0,))
    out = strange * 3.0
    steps = backprop_steps(out)
    (term,) = steps[-1].terms
    assert term.local_grad == 7.0
    assert term.upstream == 3.0
    assert term.contribution == 21.0
    assert term.local_text == "∂f/∂a"  # no formula known: the generic name


def test_steps_do_not_touch_gradients_and_ignore_accumulation():
    x, w, b, o = neuron()
    o.backward()
    o.backward()  # leaves accumulate: x.grad is now twice one pass
    before = [v.grad for v in topological_order(o)]
    steps = backprop_steps(o)
    assert [v.grad for v in topological_order(o)] == before
    assert final_grads(steps)["v0"] == pytest.approx(-1.5)  # one pass, from zero
    assert x.grad == pytest.approx(-3.0)


def test_forward_steps_in_topological_order_with_stored_values():
    x, w, b, o = neuron()
    steps = backprop_steps(o, forward=True)
    kinds = [s.kind for s in steps]
    assert kinds == ["forward"] * 3 + ["seed"] + ["backward"] * 3
    assert [s.node_id for s in steps[:3]] == ["v2", "v4", "v5"]
    assert str(steps[0]) == "x*w = 2.0000*(-3.0000) = -6.0000"
    assert str(steps[1]) == "x*w + b = (-6.0000) + 6.8814 = 0.8814"
    assert str(steps[2]) == "o = tanh(x*w + b) = tanh(0.8814) = 0.7071"
    assert [s.index for s in steps] == list(range(len(steps)))


def test_leaf_root_has_only_the_seed():
    steps = backprop_steps(Value(4.0, label="z"))
    assert [s.kind for s in steps] == ["seed"]
    assert str(steps[0]) == "∂z/∂z = 1.0000"


def test_names_fall_back_to_ids_and_wrap_constants():
    x = Value(1.0, label="x")
    root = ((((x + 1) * 2 - 3) / 4) ** 2).exp()
    tr = trace(root)
    names = node_names(tr)
    assert names["v1"] == "1"
    assert names["v2"] == "x + 1"
    assert names["v4"] == "(x + 1)*2"
    assert names["v6"] == "(x + 1)*2 - 3"
    assert names[tr.root] == tr.root  # exp(((...)/4)**2) is too long: the id
    lines = [str(t) for s in backprop_steps(root) for t in s.terms]
    assert any(line.startswith("∂L/∂(1) += ") for line in lines)


def test_walkthrough_text_has_headers_and_hides_forward_on_request():
    *_, o = neuron()
    steps = backprop_steps(o, forward=True)
    text = format_walkthrough(steps)
    assert text.splitlines()[0] == "[1/7] forward  x*w (*)"
    assert "[5/7] backward through o (tanh), upstream 1.0000" in text
    assert "forward" not in format_walkthrough(steps, show_forward=False)


def test_rejects_non_value():
    with pytest.raises(TypeError, match="expected a Value"):
        backprop_steps(3.0)


def test_fused_weighted_sum_reads_as_w_times_x():
    from microgradnn.engine import weighted_sum

    w = [Value(0.5, label="w1"), Value(-2.0, label="w2")]
    x = [Value(3.0, label="x1"), Value(1.0, label="x2")]
    z = weighted_sum(w, x, Value(0.25, label="b"))
    z.label = "z"
    forward, seed, back = backprop_steps(z, forward=True)
    assert str(forward) == "z = w1*x1 + w2*x2 + b = 0.5000*3.0000 + (-2.0000)*1.0000 + 0.2500 = -0.2500"
    assert [t.local_text for t in back.terms] == ["x1", "x2", "w1", "w2", "1"]
    assert [t.local_grad for t in back.terms] == [3.0, 1.0, 0.5, -2.0, 1.0]
    assert [t.grad_after for t in back.terms] == [3.0, 1.0, 0.5, -2.0, 1.0]


def test_negative_zero_is_shown_as_zero():
    a = Value(-1.0, label="a")
    loss = a.relu() * -2.0
    line = str(backprop_steps(loss)[-1])
    assert line == "∂L/∂a += [a > 0] * ∂L/∂(relu(a)) = 0.0000 * (-2.0000) = 0.0000"


def same_number(a, b):
    """Equal, NaN included (NaN == NaN counts as equal here)."""
    return a == b or (math.isnan(a) and math.isnan(b))


def assert_stepper_matches_engine(root):
    steps = backprop_steps(root)
    shown = final_grads(steps)
    expected = engine_grads(root)
    assert set(shown) == set(expected)
    bad = {k: (shown[k], expected[k]) for k in expected if not same_number(shown[k], expected[k])}
    assert not bad


def test_zero_gradient_is_skipped_as_in_the_engine():
    """Issue 11: for x = 0, L = x**0.5 * 0 the engine gives ∂L/∂x = 0; the replay showed NaN."""
    x = Value(0.0, label="x")
    root = x ** 0.5
    loss = root * 0
    steps = backprop_steps(loss)
    assert final_grads(steps)["v0"] == 0.0
    loss.backward()
    assert x.grad == 0.0
    (term,) = steps[-1].terms  # the step through x**0.5
    assert term.skipped and term.contribution == 0.0 and math.isinf(term.local_grad)
    assert (term.grad_before, term.grad_after) == (0.0, 0.0)
    assert str(term) == "∂L/∂x += nothing: ∂L/∂(x**0.5) = 0.0000, so backward() skips x**0.5"
    assert_stepper_matches_engine(loss)


def test_inf_and_nan_gradients_are_shown_as_the_engine_has_them():
    x = Value(0.0, label="x")
    loss = x ** 0.5 - x ** 0.5  # inf + (-inf) at x = 0
    steps = backprop_steps(loss)
    assert math.isnan(final_grads(steps)["v0"])
    assert_stepper_matches_engine(loss)


# Random expressions for the property test: dead ReLUs (negative leaves), zeros (leaves and
# "* 0"), reused operands (indices into everything built so far) and powers at 0.
_UNARY = {
    "relu": lambda a: a.relu(),
    "tanh": lambda a: a.tanh(),
    "sigmoid": lambda a: a.sigmoid(),
    "neg": lambda a: -a,
    "sqrt": lambda a: a ** 0.5,  # local derivative inf at 0
    "square": lambda a: a ** 2,
    "pow0": lambda a: a ** 0,
    "times0": lambda a: a * 0,
}
_BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "pow": lambda a, b: a ** b,
    "div": lambda a, b: a / (1.0 + b * b),
}


def _build(program, leaves):
    nodes = list(leaves)
    for name, i, j in program:
        a, b = nodes[i % len(nodes)], nodes[j % len(nodes)]
        try:
            node = _UNARY[name](a) if name in _UNARY else _BINARY[name](a, b)
        except (ValueError, ZeroDivisionError, OverflowError):
            continue  # refused by the engine (0 ** -1, (-2) ** 0.5): try the next op
        nodes.append(node)
    return nodes[-1]


def test_property_stepper_final_gradients_equal_backward():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    ops = st.sampled_from(sorted(_UNARY) + sorted(_BINARY))
    program = st.lists(st.tuples(ops, st.integers(0, 50), st.integers(0, 50)),
                       min_size=1, max_size=12)
    leaf_values = st.lists(st.sampled_from([0.0, -0.0, 1.0, -1.5, 0.5, 2.0]) | st.floats(-3, 3),
                           min_size=1, max_size=4)

    @settings(max_examples=300, deadline=None)
    @given(program=program, values=leaf_values)
    def check(program, values):
        leaves = [Value(v, label=f"x{i}") for i, v in enumerate(values)]
        assert_stepper_matches_engine(_build(program, leaves))

    check()
