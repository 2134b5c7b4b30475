"""draw_graph: golden DOT files, the id contract, grads, roles, options, determinism."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from microgradnn.engine import Value
from microgradnn.nn import MLP, Neuron
from viz import draw_graph, trace

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("MICROGRADNN_UPDATE_GOLDEN") == "1"


def classic_neuron(backward: bool) -> Value:
    x = Value(2.0, label="x")
    w = Value(-3.0, label="w")
    b = Value(6.8813735870195432, label="b")
    o = (x * w + b).tanh()
    o.label = "o"
    if backward:
        o.backward()
    return o


def neuron_parameters(o: Value):
    """w and b of ``classic_neuron``: the caller says which leaves are parameters."""
    return [leaf for leaf in trace(o).nodes if leaf.label in ("w", "b")]


def square_plus_one() -> Value:
    a = Value(3.0, label="a")
    y = a * a + 1
    y.backward()
    return y


def unfused_neuron(with_model: bool = False):
    import random
    n = Neuron(2, activation="tanh", fused=False, rng=random.Random(0), label="n.")
    out = n([Value(1.5, label="x0"), Value(-0.5, label="x1")])
    out.backward()
    return (out, n) if with_model else out


def classic_neuron_with_parameters():
    o = classic_neuron(True)
    return draw_graph(o, parameters=[r.value for r in neuron_parameters(o)])


def unfused_neuron_with_model():
    out, model = unfused_neuron(True)
    return draw_graph(out, parameters=model)


def mixed_ops() -> Value:
    x = Value(0.5, label="x")
    y = Value(-2.0, label="y")
    z = (x / y) ** 2 - x.exp() * y + (-x).sigmoid() + y.relu() + (x * x).log()
    z.backward()
    return z


CASES = {
    "neuron_before_backward": lambda: draw_graph(classic_neuron(False)),
    "neuron": classic_neuron_with_parameters,
    "neuron_tb_no_grads": lambda: draw_graph(classic_neuron(True), rankdir="TB", show_grads=False),
    "square_plus_one": lambda: draw_graph(square_plus_one()),
    "square_plus_one_hidden": lambda: draw_graph(square_plus_one(), hide_constants=True),
    "unfused_neuron": unfused_neuron_with_model,
    "mixed_ops": lambda: draw_graph(mixed_ops()),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_dot_matches_golden_file(name):
    source = CASES[name]().source
    path = GOLDEN / f"{name}.dot"
    if UPDATE:
        path.write_text(source, encoding="utf-8")
    assert path.exists(), f"missing golden file {path}; run with MICROGRADNN_UPDATE_GOLDEN=1"
    assert source == path.read_text(encoding="utf-8")


def test_same_graph_twice_gives_byte_identical_dot():
    assert draw_graph(classic_neuron(True)).source == draw_graph(classic_neuron(True)).source
    out, model = unfused_neuron(True)
    again, model_again = unfused_neuron(True)
    assert draw_graph(out, group="neuron", parameters=model).source == \
        draw_graph(again, group="neuron", parameters=model_again).source


def _statements(source: str):
    nodes = dict(re.findall(r"^\t(\w+) \[.*?\bid=(\w+)", source, flags=re.M))
    edges = re.findall(r"^\t(\w+) -> (\w+) \[.*?\bid=(\w+)", source, flags=re.M)
    return nodes, edges


def test_ids_follow_the_stepper_contract():
    o = classic_neuron(True)
    t = trace(o)
    nodes, edges = _statements(draw_graph(o).source)
    for record in t.nodes:
        assert nodes[record.id] == record.id
        if not record.is_leaf:
            assert nodes[f"{record.id}_op"] == f"{record.id}_op"
            assert (f"{record.id}_op", record.id, f"{record.id}_out") in edges
    for edge in t.edges:
        assert (edge.source, f"{edge.target}_op", edge.id) in edges
    assert len(edges) == len(t.edges) + sum(1 for r in t.nodes if not r.is_leaf)


def test_reused_operand_gets_one_edge_per_slot():
    y = square_plus_one()
    _, edges = _statements(draw_graph(y).source)
    into_mul = [e for e in edges if e[1] == "v1_op"]
    assert [(s, i) for s, _, i in into_mul] == [("v0", "e0"), ("v0", "e1")]


def test_before_backward_says_not_computed_instead_of_zeros():
    source = draw_graph(classic_neuron(False)).source
    assert source.count("not computed yet") == 6 + 1  # every node, and the caption
    assert "grad +=" not in source
    assert "local -3.0000" in source  # local derivatives are known after the forward pass


def test_after_backward_edges_carry_local_and_contribution():
    source = draw_graph(classic_neuron(True)).source
    assert "not computed yet" not in source
    # x's edge into *: local = w = -3, contribution = -3 * 0.5 (upstream)
    assert re.search(r"v0 -> v2_op \[label=<[^\n]*local -3\.0000<BR/>grad \+= -1\.5000", source)
    assert "0.7071" in source and "6.8814" in source


def test_gradient_colours_are_signed_and_share_one_scale():
    source = draw_graph(classic_neuron(True)).source
    cell = r'<FONT>grad</FONT></TD><TD ALIGN="RIGHT" BGCOLOR="(#[0-9a-f]{6})">'
    x_fill, w_fill = re.findall(cell, source)[:2]
    assert x_fill == "#5e3c99"  # x.grad = -1.5, the largest |grad|: full purple
    r, g, b = (int(w_fill[i:i + 2], 16) for i in (1, 3, 5))
    assert r > b  # w.grad = +1: orange side, lighter than the full colour
    assert w_fill != "#e66101"


def test_roles_are_shown_by_border_and_word():
    source = draw_graph(square_plus_one(), parameters=[]).source
    assert re.search(r'v0 \[label=<<TABLE BORDER="1" STYLE="rounded".*input', source)
    assert re.search(r'v2 \[label=<<TABLE BORDER="1" STYLE="dashed".*constant', source)
    assert re.search(r'v3 \[label=<<TABLE BORDER="3" STYLE="rounded".*output', source)
    o = classic_neuron(True)
    source = draw_graph(o, parameters=[r.value for r in neuron_parameters(o)]).source
    assert re.search(r'v1 \[label=<<TABLE BORDER="3" CELL.*parameter', source)


def test_without_parameters_every_labelled_leaf_is_drawn_alike():
    """No guessing from names: ``w`` and ``b`` look exactly like ``x``."""
    source = draw_graph(classic_neuron(True)).source
    assert "parameter" not in source and "input" not in source
    tables = re.findall(r"^\tv[0-9] \[label=<<TABLE ([^>]*)>", source, flags=re.M)
    leaves = [r.id for r in trace(classic_neuron(True)).nodes if r.is_leaf]
    assert len(leaves) == 3 and len({tables[int(i[1:])] for i in leaves}) == 1
    assert [r.role for r in trace(classic_neuron(True)).nodes if r.is_leaf] == ["leaf"] * 3


def test_parameters_argument_marks_parameters():
    x = Value(1.0, label="x")
    k = Value(2.0, label="k")
    source = draw_graph(x * k, parameters=[k]).source
    assert re.search(r"v1 \[label=<[^\n]*parameter", source)
    assert re.search(r"v0 \[label=<[^\n]*input", source)
    assert not re.search(r"v0 \[label=<[^\n]*parameter", source)


def test_a_module_as_parameters_marks_exactly_its_parameters():
    """Roles come from ``model.parameters()``, whatever the labels say."""
    import random
    n = Neuron(2, activation="tanh", rng=random.Random(0))  # no labels at all
    w = Value(0.5, label="w")  # labelled like a weight, but not the model's
    out = n([Value(1.5, label="x0"), w])
    roles = {r.value: r.role for r in trace(out, n).nodes}
    assert all(roles[p] == "parameter" for p in n.parameters())
    assert roles[w] == "input"
    assert sum(role == "parameter" for role in roles.values()) == len(n.parameters())


def test_hide_constants_drops_nodes_and_their_edges():
    source = draw_graph(square_plus_one(), hide_constants=True).source
    assert "\tv2 " not in source and "v2 ->" not in source
    assert "1 constant hidden" in source
    assert "v0 -> v1_op" in source


def test_rankdir_and_bad_options():
    assert "rankdir=TB" in draw_graph(classic_neuron(False), rankdir="TB").source
    assert "rankdir=LR" in draw_graph(classic_neuron(False)).source
    with pytest.raises(ValueError, match="rankdir.*'XY'"):
        draw_graph(classic_neuron(False), rankdir="XY")
    with pytest.raises(ValueError, match="group.*'neurons'"):
        draw_graph(classic_neuron(False), group="neurons")
    with pytest.raises(ValueError, match="max_nodes"):
        draw_graph(classic_neuron(False), max_nodes=0)
    with pytest.raises(TypeError, match="Value"):
        draw_graph(3.0)


def test_show_grads_false_leaves_grads_out():
    source = draw_graph(classic_neuron(True), show_grads=False).source
    assert "grad" not in source.replace("computation_graph", "")
    assert "local -3.0000" in source


def _clusters(source: str):
    return re.findall(r"subgraph (cluster_\w+) \{\n\t+color=\S+ fontsize=10 label=<<B>([^<]+)</B>>",
                      source)


def test_group_neuron_and_layer_put_nodes_in_clusters():
    mlp = MLP(2, [3, 2], fused=False, seed=0)
    out = sum(mlp([Value(1.0, label="x0"), Value(-2.0, label="x1")]))
    out.backward()
    by_neuron = draw_graph(out, group="neuron", parameters=mlp).source
    # clusters are titled in the lectures' notation: layers.0.neurons.1 is a[1][1]
    assert [name for _, name in _clusters(by_neuron)] == [
        "layer 1", "a&#91;1&#93;&#91;0&#93;", "a&#91;1&#93;&#91;1&#93;", "a&#91;1&#93;&#91;2&#93;",
        "layer 2", "a&#91;2&#93;&#91;0&#93;", "a&#91;2&#93;&#91;1&#93;"]
    by_layer = draw_graph(out, group="layer", parameters=mlp).source
    assert [name for _, name in _clusters(by_layer)] == ["layer 1", "layer 2"]
    # Every parameter sits inside a cluster; the inputs stay outside.
    outside = by_layer.split("\tsubgraph")[0] + by_layer.rsplit("\t}\n", 1)[-1]
    # parameters are named as in the lectures, from the model: w[1][0,0] is layers.0.neurons.0.w.0
    w100 = "w&#91;1&#93;&#91;0,0&#93;"
    assert "x0</B>" in outside and w100 not in outside
    assert w100 in by_layer and "layers.0.neurons.0.w.0" not in by_layer
    # The whole neuron's computation is in its cluster: w*x, the + chain and the relu.
    cluster = by_neuron.split("label=<<B>a&#91;1&#93;&#91;1&#93;</B>>")[1].split("\t\t}")[0]
    assert cluster.count("_op [") == 2 * 2 + 1
    assert "<relu>" in cluster


def test_groups_come_from_the_model_never_from_labels():
    mlp = MLP(2, [2, 1], fused=False, seed=0)
    for name, p in mlp.named_parameters():
        p.label = "p"  # labels say nothing about the structure any more
    impostor = Value(3.0, label="layers.0.neurons.0.w.0")  # a label like nn's, not the model's
    out = mlp([Value(1.0, label="x0"), impostor])
    out.backward()
    by_layer = draw_graph(out, group="layer", parameters=mlp).source
    assert [name for _, name in _clusters(by_layer)] == ["layer 1", "layer 2"]
    outside = by_layer.split("\tsubgraph")[0]
    assert "layers.0.neurons.0.w.0</B>" in outside  # the impostor stays ungrouped
    groups_by_neuron = draw_graph(out, group="neuron", parameters=mlp).source
    assert [name for _, name in _clusters(groups_by_neuron)] == [
        "layer 1", "a&#91;1&#93;&#91;0&#93;", "a&#91;1&#93;&#91;1&#93;", "layer 2",
        "a&#91;2&#93;&#91;0&#93;"]


def test_grouping_needs_the_model():
    mlp = MLP(2, [2, 1], seed=0)
    out = mlp([1.0, 2.0])
    with pytest.raises(ValueError, match="parameters=model"):
        draw_graph(out, group="neuron")
    with pytest.raises(ValueError, match="parameters=model"):
        draw_graph(out, group="layer", parameters=mlp.parameters())


def test_a_single_neuron_is_its_own_group():
    out, model = unfused_neuron(True)
    source = draw_graph(out, group="neuron", parameters=model).source
    assert [name for _, name in _clusters(source)] == ["a&#91;1&#93;&#91;0&#93;"]


def test_bad_parameters_get_one_clear_error():
    x = Value(1.0, label="x")
    with pytest.raises(TypeError, match="Module or an iterable of Values, got int"):
        draw_graph(x * 2, parameters=3)
    with pytest.raises(TypeError, match=r"parameters\[1\] is str, not a Value"):
        trace(x * 2, [x, "w"])
