"""The stepper's outputs without a browser: page structure, escaping, GIF/SVG frames, CLI."""

from __future__ import annotations

import json
import re

import pytest
from PIL import Image

from microgradnn.autodiff import topological_order
from microgradnn.cli import main
from microgradnn.engine import Value
from microgradnn.nn import MLP
from viz.steps.animation import frame_states, save_animation
from viz.steps.backprop import backprop_steps, steps_from_trace
from viz.steps.page import save_stepper, script_json, stepper_html
from viz.steps.layout import fresh_gradients, mark_svg
from viz.graph.trace import trace

XSS = "</script><script>alert(1)</script>"


def neuron(w_label="w"):
    x, w, b = Value(2.0, label="x"), Value(-3.0, label=w_label), Value(6.8813735870195432, label="b")
    o = (x * w + b).tanh()
    o.label = "o"
    return o


def page_data(page: str) -> dict:
    match = re.search(r'<script type="application/json" id="mg-data">(.*?)</script>', page, re.S)
    return json.loads(match.group(1))


def test_script_json_escapes_markup_and_line_separators():
    data = {"label": XSS + " & <!-- \u2028\u2029"}
    text = script_json(data)
    for bad in ("<", ">", "&", "\u2028", "\u2029"):
        assert bad not in text
    assert json.loads(text) == data


def test_xss_label_stays_text_in_the_page():
    page = stepper_html(neuron(XSS), title=XSS)
    # Exactly our two script elements, no other opening tag made of the label.
    assert page.count("<script") == 2
    assert "alert(1)</script>" not in page.replace("</script>\n</body>", "")
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page  # the SVG text and <title>
    data = page_data(page)
    assert data["title"] == XSS
    assert data["nodes"]["v1"]["label"] == XSS
    assert "innerHTML" not in page and "outerHTML" not in page and "insertAdjacentHTML" not in page


def test_page_is_self_contained_and_has_every_id():
    page = stepper_html(neuron(), forward=True)
    # No network: the only URLs are XML namespace names; nothing is loaded.
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", page))
    assert urls <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}
    assert not re.search(r"\s(src|href)\s*=", page)
    assert "Content-Security-Policy" in page
    for node_id in ("v0", "v1", "v2", "v3", "v4", "v5"):
        assert f'id="{node_id}"' in page
    for element_id in ("v2_op", "v4_op", "v5_op", "v2_out", "e0", "e1", "e2", "e3", "e4"):
        assert f'id="{element_id}"' in page
    assert page.count('class="mg-grad"') == 6 and page.count('class="mg-data"') == 6
    assert page.count('class="mg-contrib"') == 5
    assert page.count("<svg") == 1
    # Unlabelled computed nodes carry their caption name in the picture.
    assert re.findall(r'<text class="mg-tag"[^>]*>([^<]*)</text>', page) == ["x*w", "x*w + b"]
    data = page_data(page)
    assert [s["kind"] for s in data["steps"]] == ["forward"] * 3 + ["seed"] + ["backward"] * 3
    assert data["steps"][-1]["terms"][0]["after"] == "-1.5000"
    assert data["nodes"]["v0"]["final"] == 6  # x's gradient is complete after the last step


def test_stepper_leaves_user_gradients_as_they_were(tmp_path):
    o = neuron()
    o.backward()
    o.backward()
    before = [(v.grad, v.data) for v in topological_order(o)]
    save_stepper(o, str(tmp_path / "s.html"))
    assert [(v.grad, v.data) for v in topological_order(o)] == before


def test_fresh_gradients_restores_even_on_error():
    o = neuron()
    leaves = topological_order(o)
    with pytest.raises(RuntimeError):
        with fresh_gradients(o):
            assert leaves[0].grad == pytest.approx(-1.5)
            raise RuntimeError("boom")
    assert all(v.grad == 0.0 for v in leaves)


def test_mark_svg_tags_numbers_and_drops_prolog():
    svg = ('<?xml version="1.0"?><!DOCTYPE svg><svg xmlns="http://www.w3.org/2000/svg" width="10pt" '
           'height="5pt" viewBox="0 0 10 5"><!-- v0 --><g id="v0" class="node"><text>data</text>'
           '<text>2.0000</text><text>grad</text><polygon fill="#abcdef" points="0,0"/>'
           '<text>-1.5000</text><polygon fill="none" stroke="black" points="0,0"/></g>'
           '<g id="e0" class="edge"><path d="M0,0"/><text>local 3.0000</text>'
           '<text>grad += 1.0000</text></g></svg>')
    out = mark_svg(svg)
    assert out.startswith("<svg") and "<!--" not in out and "DOCTYPE" not in out
    assert 'width="10pt"' not in out and 'viewBox="0 0 10 5"' in out
    assert re.search(r'<text class="mg-data"[^>]*>2.0000</text>', out)
    assert re.search(r'<text class="mg-grad"[^>]*>-1.5000</text>', out)
    assert 'class="mg-grad-bg"' in out and 'class="mg-outline"' in out
    assert re.search(r'<text class="mg-local" data-prefix="local ">', out)
    assert re.search(r'<text class="mg-contrib" data-prefix="grad \+= ">', out)


def test_too_big_graph_is_refused_clearly(tmp_path):
    with pytest.raises(ValueError, match="max_nodes=5"):
        save_stepper(neuron(), str(tmp_path / "s.html"), max_nodes=5)


def test_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        save_stepper(neuron(), str(tmp_path / "nope" / "s.html"))


def test_frame_states_end_with_engine_gradients():
    model = MLP(2, [3, 1], fused=False, seed=0)
    loss = (model([0.3, -0.8]) - 1.0) ** 2
    tr = trace(loss)
    steps = steps_from_trace(tr, forward=True)
    states = list(frame_states(tr, steps))
    assert len(states) == len(steps) + 1
    assert states[0].grads == {} and states[0].known == {n.id for n in tr.nodes if n.is_leaf}
    loss.backward()
    engine = {n.id: n.value.grad for n in tr.nodes}
    assert states[-1].grads == engine
    assert states[-1].final == set(engine)
    assert states[-1].known == set(engine)


def test_gif_and_numbered_svg_frames(tmp_path):
    o = neuron()
    gif, frames = tmp_path / "n.gif", tmp_path / "frames"
    written = save_animation(o, str(gif), frames_dir=str(frames), progress=False)
    n_frames = len(backprop_steps(o)) + 1
    assert written[0] == str(gif)
    assert sorted(p.name for p in frames.iterdir()) == [f"frame_{i:03d}.svg" for i in range(n_frames)]
    with Image.open(gif) as image:
        assert image.format == "GIF" and image.n_frames == n_frames
    last = (frames / f"frame_{n_frames - 1:03d}.svg").read_text()
    assert "-1.5000" in last and "grad ?" not in last
    first = (frames / "frame_000.svg").read_text()
    assert "-1.5000" not in first and "grad ?" in first


def test_save_animation_checks_its_arguments(tmp_path):
    with pytest.raises(ValueError, match="GIF"):
        save_animation(neuron(), str(tmp_path / "a.mp4"))
    with pytest.raises(ValueError, match="path_gif, frames_dir"):
        save_animation(neuron(), None)


def test_cli_prints_walkthrough_and_writes_files(tmp_path, capsys):
    html, gif = tmp_path / "n.html", tmp_path / "n.gif"
    code = main(["backprop", "tanh(x*w + b)", "--set", "x=2", "w=-3", "b=6.8813735870195432",
                 "--html", str(html), "--gif", str(gif)])
    out = capsys.readouterr().out
    assert code == 0
    assert "∂L/∂x += w * ∂L/∂(x*w) = (-3.0000) * 0.5000 = -1.5000" in out
    assert "gradients: ∂L/∂x = -1.5000, ∂L/∂w = 1.0000, ∂L/∂b = 0.5000" in out
    assert "forward" not in out
    assert html.exists() and gif.exists()
    assert page_data(html.read_text())["title"] == "Backpropagation through tanh(x*w + b)"


def test_cli_forward_and_errors(tmp_path, capsys):
    assert main(["backprop", "a*a", "--set", "a=3", "--forward"]) == 0
    out = capsys.readouterr().out
    assert "    L = a*a = 3.0000*3.0000 = 9.0000\n" in out
    assert "∂L/∂a += a * ∂L/∂L = 3.0000 * 1.0000 = 3.0000" in out
    assert "gradients: ∂L/∂a = 6.0000" in out
    assert main(["backprop", "x*y", "--set", "x=1"]) == 2
    assert "'y' has no value" in capsys.readouterr().err
    assert main(["backprop", "x", "--set", "x=1", "--html", str(tmp_path / "a.txt")]) == 2
    assert "--html expects" in capsys.readouterr().err


def test_big_graph_gif_draws_boxes_without_unreadable_text(tmp_path):
    model = MLP(2, [3, 1], fused=False, seed=0)
    loss = (model([0.3, -0.8]) - 1.0) ** 2
    frames = tmp_path / "frames"
    save_animation(loss, str(tmp_path / "m.gif"), frames_dir=str(frames), max_width_px=300,
                   progress=False)
    names = sorted(p.name for p in frames.iterdir())
    assert len(names) == len(backprop_steps(loss)) + 1
    last = (frames / names[-1]).read_text()
    assert "grad 0" not in last and "grad -" not in last  # no per-node text at this size
    with Image.open(tmp_path / "m.gif") as image:
        assert image.n_frames == len(names)


@pytest.mark.slow
def test_dense_graph_gets_every_node_not_the_grouped_view(tmp_path):
    """A graph dense enough for draw_graph's automatic grouped view still steps node by node."""
    from microgradnn.toy_training import sample_loss

    loss = sample_loss(MLP(2, [40, 40, 1], seed=0), [0.3, 0.1], 1)
    loss.backward()
    page = open(save_stepper(loss, str(tmp_path / "dense.html")), encoding="utf-8").read()
    ids = set(re.findall(r'id="(v\d+)"', page))
    assert len(ids) == len(trace(loss).nodes)


def _scene(root, parameters=None, **options):
    from viz.steps.animation import _Scene
    from viz.steps.layout import graph_source, layout
    from viz.graph.trace import trace as trace_of
    from viz.steps.backprop import steps_from_trace

    tr = trace_of(root, parameters)
    lay = layout(graph_source(root, "LR", parameters, False, 3000))
    return _Scene(tr, lay, steps_from_trace(tr), options.get("max_width_px", 2400),
                  options.get("dpi", 100))


@pytest.mark.parametrize("dpi", [72, 100])
def test_gif_node_text_is_at_least_12_px_and_every_frame_has_its_legend(dpi):
    from microgradnn import losses

    model = MLP(2, [2, 1], seed=0)
    loss = losses.mse_loss([model([0.5, -1.0])], [1.0])
    scene = _scene(loss, model, dpi=dpi)
    assert scene.detail
    axes_texts = [t for t in scene.figure.axes[0].texts]
    assert axes_texts and min(t.get_fontsize() for t in axes_texts) * dpi / 72 >= 12 - 1e-9
    legend = "\n".join(t.get_text() for t in scene.figure.texts)
    assert "red: the node of this step" in legend and "purple < 0 < orange" in legend
    assert "full at |grad| = 2.0766" in legend  # the largest below the output's seed
    names = {t.get_text() for t in axes_texts}
    assert {"w[1][0,1]", "z[1][0]", "a[1][1]", "y[0]", "C"} <= names


def test_gif_caption_band_is_as_tall_as_the_longest_caption_only():
    def band(scene):
        height_px = scene.figure.get_figheight() * scene.figure.dpi
        return height_px - scene.figure.axes[0].get_position().height * height_px

    two = band(_scene(neuron()))  # at most two caption lines per step
    # title + two caption lines + three legend lines, nothing more
    assert two < 160, two
    model = MLP(2, [2, 1], seed=0)
    five = band(_scene((model([0.5, -1.0]) - 1.0) ** 2, model))  # five terms into z[2][0]
    assert five - two == pytest.approx(3 * 11 * 1.45 * 100 / 72, rel=0.01)


def test_too_wide_for_readable_text_says_so_in_the_legend():
    model = MLP(2, [3, 1], fused=False, seed=0)
    loss = (model([0.3, -0.8]) - 1.0) ** 2
    scene = _scene(loss, max_width_px=300)
    assert not scene.detail
    assert "too wide for text of 12 px" in "\n".join(t.get_text() for t in scene.figure.texts)
