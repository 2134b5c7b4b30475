"""Captions and pictures name a network's nodes as the lectures do (NOTATION.md).

``w[l][j,k]``, ``b[l][j]``, ``z[l][j]``, ``a[l][j]``, ``x[k]``, ``y[j]`` and the cost ``C``,
with ``l`` and ``j`` read from the model's module tree, never from labels.
"""

from __future__ import annotations

import re

import pytest

from microgradnn import losses
from microgradnn.engine import Value
from microgradnn.nn import MLP, Layer, Neuron
from viz import draw_graph
from viz.graph.trace import trace
from viz.graph.notation import lecture_names
from viz.steps.backprop import backprop_steps, format_walkthrough


@pytest.mark.parametrize("fused", [True, False])
def test_an_mlp_sample_reads_in_the_lectures_notation(fused):
    m = MLP(2, [2, 1], seed=0, fused=fused)
    loss = losses.mse_loss([m([0.5, -1.0])], [1.0])
    text = format_walkthrough(backprop_steps(loss, parameters=m))
    assert "∂C/∂C = 1.0000" in text
    for name in ("∂C/∂z[2][0]", "∂C/∂w[2][0,1]", "∂C/∂b[2][0]", "∂C/∂a[1][1]",
                 "∂C/∂z[1][1]", "∂C/∂w[1][1,0]", "∂C/∂x[0]", "∂C/∂y[0]"):
        assert name in text, name
    # nothing a learner has to decode: no ids, no module paths, no plumbing
    assert not re.search(r"\bv\d+\b", text)
    assert "layers." not in text and "neurons." not in text
    assert "0 +" not in text and "/ 1" not in text and "1*" not in text


def test_names_come_from_the_model_not_from_labels():
    m = MLP(3, [2, 2], seed=1)
    for p in m.parameters():
        p.label = "confusing"  # labels say nothing; the module tree still does
    out = m([1.0, 2.0, 3.0])
    t = trace(losses.cross_entropy(out, 1), m)
    names = lecture_names(t)
    w = m.layers[1].neurons[0].w[1]
    b = m.layers[0].neurons[1].b
    by_value = {id(n.value): names.get(n.id) for n in t.nodes}
    assert by_value[id(w)] == "w[2][0,1]" and by_value[id(b)] == "b[1][1]"
    assert by_value[id(out[1])] == "z[2][1]"  # a linear output is its weighted sum
    assert sorted(v for v in names.values() if v.startswith("a[")) == ["a[1][0]", "a[1][1]"]
    assert lecture_names(trace(losses.cross_entropy(m([1.0, 2.0, 3.0]), 1))) == {}  # no model


def test_a_single_neuron_or_layer_is_layer_one():
    n = Neuron(2, activation="tanh")
    t = trace(n([1.0, 2.0]), n)
    assert {"w[1][0,0]", "w[1][0,1]", "b[1][0]", "z[1][0]", "a[1][0]"} == set(lecture_names(t).values())
    layer = Layer(2, 3, activation="relu")
    t = trace(sum(layer([1.0, 2.0])), layer)
    assert "a[1][2]" in lecture_names(t).values() and "w[1][2,1]" in lecture_names(t).values()


def test_a_batch_keeps_parameters_named_but_not_repeated_activations():
    m = MLP(2, [2, 1], seed=0, output_activation="tanh")
    loss = losses.mse_loss([m([0.1, 0.2]), m([0.3, -0.4])], [1.0, -1.0])
    names = lecture_names(trace(loss, m))
    assert "w[1][1,0]" in names.values()
    assert not any(v.startswith(("a[", "z[")) for v in names.values())


def test_the_graph_shows_the_lecture_names_and_a_readable_scale():
    x, w, b = Value(3.0, label="x"), Value(2.0, label="w"), Value(1.0, label="b")
    out = (x * w + b).tanh()  # saturated: every gradient below the output is ~1e-5
    out.backward()
    source = draw_graph(out).source
    scale = float(re.search(r"full at \|grad\| = ([0-9.e+-]+),", source).group(1))
    assert scale == pytest.approx(max(abs(x.grad), abs(w.grad), abs(b.grad)), rel=1e-3)
    assert scale < 1e-3 and "but the output's own seed" in source
    # the largest gradient below the output gets the full orange, not a near-white
    w_box = source.split("<B>w</B>")[1].split("</TABLE>")[0]  # w has the largest |grad|
    assert 'BGCOLOR="#e66101"' in w_box
    m = Neuron(2, activation="tanh")
    g = draw_graph(m([1.0, 2.0]), parameters=m).source
    assert "w&#91;1&#93;&#91;0,1&#93;" in g and "a&#91;1&#93;&#91;0&#93;" in g
