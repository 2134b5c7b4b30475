"""draw_graph rendered with dot: SVG content, escaping, missing binary, big graphs."""

from __future__ import annotations

import os
import re
import shutil
import warnings
import xml.etree.ElementTree as ET

import graphviz
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from microgradnn.datasets.toy import make_moons
from microgradnn.engine import Value
from microgradnn.losses import hinge_loss, l2_penalty
from microgradnn.nn import MLP
from viz import GraphvizNotFoundError, LargeGraphWarning, draw_graph, draw_network
from viz.graph.collapse import collapsed_budget
from viz.graph.graph import DEFAULT_MAX_LAYOUT
from viz.graph.dot import escape_html, render

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz 'dot' not installed")
SVG = "{http://www.w3.org/2000/svg}"

NASTY = 'a<b>&c "q" \'s\' {brace} back\\slash\nnew line </TD></TABLE>> ] ; } digraph x {'


def neuron() -> Value:
    x, w, b = Value(2.0, label="x"), Value(-3.0, label="w"), Value(6.8813735870195432, label="b")
    o = (x * w + b).tanh()
    o.backward()
    return o


def svg_of(graph: graphviz.Digraph) -> ET.Element:
    return ET.fromstring(graph.pipe(format="svg"))


def svg_texts(root: ET.Element):
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


@needs_dot
def test_rendered_svg_has_values_grads_and_contract_ids():
    root = svg_of(draw_graph(neuron()))
    texts = svg_texts(root)
    for number in ("2.0000", "-3.0000", "6.8814", "0.7071", "-1.5000", "1.0000", "0.5000"):
        assert number in texts, number
    ids = {g.get("id") for g in root.iter(f"{SVG}g")}
    assert {"v0", "v2", "v2_op", "v2_out", "e0", "e1", "v5", "v5_op", "v5_out"} <= ids


@needs_dot
def test_render_helper_writes_file_atomically(tmp_path):
    path = tmp_path / "neuron.svg"
    assert render(draw_graph(neuron()), str(path)) == str(path)
    assert path.read_text().lstrip().startswith("<?xml")
    assert [p.name for p in tmp_path.iterdir()] == ["neuron.svg"]
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    with pytest.raises(ValueError, match="suffix"):
        render(draw_graph(neuron()), str(tmp_path / "noext"))


def test_escape_html_covers_markup_and_dot_characters():
    out = escape_html(NASTY)
    for raw in '<>"\'{}\\\n':
        assert raw not in out.replace("<BR/>", "")
    assert "&amp;c" in out and "&lt;b&gt;" in out and "<BR/>" in out
    assert escape_html("tab\there\x00\x7f") == "tab here\u2400\u2421"


@needs_dot
def test_nasty_labels_neither_break_the_render_nor_inject_markup():
    a = Value(1.0, label=NASTY)
    b = Value(2.0, label="</FONT><B>bold</B>")
    y = a * b
    y.label = "out{1}\\n"
    graph = draw_graph(y, title=NASTY)
    assert "<B>bold</B>" not in graph.source
    root = svg_of(graph)  # dot would fail on broken HTML labels; ET on broken SVG
    texts = " ".join(svg_texts(root))
    assert "a<b>&c \"q\" 's' {brace} back\\slash" in texts
    assert "new line </TD></TABLE>> ] ; } digraph x {" in texts
    assert "</FONT><B>bold</B>" in texts
    assert "out{1}\\n" in texts


@needs_dot
def test_nasty_labels_in_the_collapsed_view():
    w = Value(0.5, label="layers.0.neurons.0.w.0")
    x = Value(1.0, label=NASTY)
    y = (w * x).relu()
    root = svg_of(draw_graph(y, collapse=True, title="<script>"))
    texts = " ".join(svg_texts(root))
    assert "<script>" in texts and "a<b>&c" in texts and "layers.0.neurons.0.w.0" in texts


def test_missing_dot_binary_raises_one_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no 'dot' anywhere
    graph = draw_graph(neuron())
    assert graph.source.startswith("digraph")  # building the DOT text needs no binary
    for attempt in (lambda: graph.pipe(format="svg"),
                    lambda: graph.render(str(tmp_path / "x"), format="svg"),
                    lambda: render(graph, str(tmp_path / "x.svg")),
                    lambda: draw_network(MLP(2, [2])).pipe(format="svg")):
        with pytest.raises(GraphvizNotFoundError,
                           match="Install graphviz.*apt-get install graphviz"):
            attempt()
    with pytest.raises(graphviz.ExecutableNotFound):  # still catchable as graphviz's own error
        graph.pipe(format="svg")
    assert not (tmp_path / "x.svg").exists()


def moons_loss(n: int):
    X, y = make_moons(n, seed=0)
    mlp = MLP(2, [16, 16, 1], seed=0)
    scores = [mlp([Value(a) for a in row]) for row in X.tolist()]
    loss = hinge_loss(scores, (2 * y - 1).tolist()) + l2_penalty(mlp.parameters(), 1e-4)
    loss.backward()
    return loss, mlp


def test_big_graph_switches_to_grouped_view_with_a_warning():
    loss, mlp = moons_loss(30)
    with pytest.warns(LargeGraphWarning, match=r"\d+ DOT nodes, more than max_nodes=3000"):
        graph = draw_graph(loss, parameters=mlp)
    assert graph.name == "computation_graph_grouped"
    nodes = re.findall(r"^\t+(u\d+) \[", graph.source, flags=re.M)
    assert 33 <= len(nodes) + len(real_edges(graph.source)) <= collapsed_budget(DEFAULT_MAX_LAYOUT)
    for i in range(16):
        assert f"<B>a&#91;1&#93;&#91;{i}&#93;</B>" in graph.source  # layers.0.neurons.{i}
    assert "grouped view: each neuron is one node" in graph.source


def real_edges(source: str):
    return [line for line in source.splitlines() if "->" in line and "style=invis" not in line]


def test_dense_or_long_edges_switch_before_the_node_limit():
    # 2.1k DOT nodes but 3.6k edges (layout size 5.9k): 5 s in full, 16 s before nslimit.
    mlp = MLP(2, [40, 40, 1], seed=0)
    out = mlp([Value(0.1, label="x0"), Value(0.2, label="x1")])
    out.backward()
    with pytest.warns(LargeGraphWarning, match=r"layout size of \d+ .*max_layout=5000"):
        graph = draw_graph(out, parameters=mlp)
    assert graph.name == "computation_graph_grouped"
    # Layer level: 40 x 40 neuron-to-neuron links would be too dense to lay out.
    assert "each layer is one node" in graph.source
    # 1.9k nodes, but parameters feeding a long L2 chain: 23 s in full.
    mlp = MLP(2, [16, 16, 1], seed=0)
    out = mlp([Value(0.1, label="x0"), Value(0.2, label="x1")])
    loss = out + l2_penalty(mlp.parameters(), 1e-4)
    loss.backward()
    with pytest.warns(LargeGraphWarning, match="layout size"):
        assert draw_graph(loss, parameters=mlp).name == "computation_graph_grouped"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert draw_graph(loss, max_layout=10 ** 6).name == "computation_graph"


def test_small_graph_stays_full_and_threshold_is_adjustable():
    o = neuron()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert draw_graph(o).name == "computation_graph"
    with pytest.warns(LargeGraphWarning):
        assert draw_graph(o, max_nodes=5).name == "computation_graph_grouped"


def test_grouped_view_stays_small_for_a_huge_graph():
    # A chain of 20k ops with no neurons at all: merging must still bound the picture.
    x = Value(0.5, label="x")
    y = x
    for i in range(10_000):
        y = (y * 0.999 + 0.001).tanh() if i % 2 else y + x
    y.backward()
    with pytest.warns(LargeGraphWarning):
        graph = draw_graph(y)
    nodes = re.findall(r"^\t+(u\d+) \[", graph.source, flags=re.M)
    assert 1 < len(nodes) + len(real_edges(graph.source)) <= collapsed_budget(DEFAULT_MAX_LAYOUT)
    assert len(graph.source) < 200_000


def test_collapsed_view_before_backward_says_grads_not_computed():
    mlp = MLP(3, [4, 1], seed=1)
    out = mlp([1.0, 2.0, 3.0])
    graph = draw_graph(out, collapse=True)
    assert "gradients not computed yet" in graph.source
    assert "Σ|grad|" not in graph.source


@needs_dot
@settings(max_examples=40, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40))
def test_any_label_renders_and_cannot_add_elements(label):
    a = Value(1.0, label=label or "a")
    y = a * 2
    root = svg_of(draw_graph(y, title=label))
    node_groups = [g for g in root.iter(f"{SVG}g") if g.get("class") == "node"]
    assert sorted(g.get("id") for g in node_groups) == ["v0", "v1", "v2", "v2_op"]
    assert sum(1 for g in root.iter(f"{SVG}g") if g.get("class") == "edge") == 3


def test_collapsed_view_options():
    mlp = MLP(3, [4, 1], seed=1)
    out = mlp([1.0, 2.0, 3.0]) * 2 + 1
    out.backward()
    shown = draw_graph(out, collapse=True, parameters=mlp).source
    hidden = draw_graph(out, collapse=True, hide_constants=True, parameters=mlp).source
    assert "<B>constant</B>" in shown and "<B>constant</B>" not in hidden
    assert "Σ|grad|" in shown
    quiet = draw_graph(out, collapse=True, show_grads=False, parameters=mlp).source
    assert "grad" not in quiet.replace("computation_graph_grouped", "")
    assert draw_graph(out, collapse=True, group="layer",
                      parameters=mlp).source.count("<B>layer ") == 2
    assert "rankdir=TB" in draw_graph(out, collapse=True, rankdir="TB").source


def test_collapsed_neuron_shows_its_bias_read_from_the_graph():
    """The bias is the parameter the weighted sum adds (its ``b`` slot), or the one a
    ``+`` adds in the unfused chain: never found by its label."""
    for fused in (True, False):
        mlp = MLP(2, [2, 1], seed=1, fused=fused)
        mlp.layers[0].neurons[1].b.data = 0.125
        for p in mlp.parameters():
            p.label = ""
        out = mlp([1.0, 2.0])
        out.backward()
        source = draw_graph(out, collapse=True, parameters=mlp).source
        unit = source.split("<B>a&#91;1&#93;&#91;1&#93;</B>")[1].split("</TABLE>")[0]
        assert ">bias<" in unit and ">0.1250<" in unit, fused


def test_collapsed_view_without_the_model_merges_ops_and_says_how_to_group():
    mlp = MLP(2, [40, 40, 1], seed=0)
    out = mlp([Value(0.1, label="x0"), Value(0.2, label="x1")])
    out.backward()
    with pytest.warns(LargeGraphWarning, match="pass parameters=model"):
        graph = draw_graph(out)
    assert "collapsed view" in graph.source and "layers.0.neurons" not in graph.source
