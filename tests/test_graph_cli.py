"""``microgradnn graph``: expression in, picture or DOT out."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from microgradnn.cli import main

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz 'dot' not installed")
NEURON = ["graph", "tanh(x*w + b)", "--set", "x=2", "w=-3", "b=6.8814"]


def test_dot_to_stdout_before_and_after_backward(capsys):
    assert main(NEURON + ["-o", "-"]) == 0
    before = capsys.readouterr().out
    assert before.startswith("digraph computation_graph {")
    assert "not computed yet" in before and "tanh(x*w + b)" in before
    assert main(NEURON + ["--backward"]) == 0  # '-' is the default output
    after = capsys.readouterr().out
    assert "not computed yet" not in after and "grad += -1.4999" in after


def test_rankdir_and_hide_constants(capsys):
    assert main(["graph", "x*x + 1", "--set", "x=3", "--rankdir", "TB", "--hide-constants"]) == 0
    out = capsys.readouterr().out
    assert "rankdir=TB" in out and "1 constant hidden" in out
    assert out.count("v0 -> v1_op") == 2  # x*x: one edge per operand slot


@needs_dot
def test_writes_svg_with_values(tmp_path, capsys):
    path = tmp_path / "neuron.svg"
    assert main(NEURON + ["--backward", "-o", str(path)]) == 0
    assert f"wrote {path}" in capsys.readouterr().out
    svg = path.read_text()
    # dot writes '-' as '&#45;' in SVG text
    assert "<svg" in svg and "0.7071" in svg and "&#45;1.4999" in svg and 'id="v5_op"' in svg


def test_writes_dot_file(tmp_path):
    path = tmp_path / "g.dot"
    assert main(["graph", "x+1", "--set", "x=1", "-o", str(path)]) == 0
    assert path.read_text().startswith("digraph")


@pytest.mark.parametrize("argv, message", [
    (["graph", "__import__('os').system('true')"], "calling \"__import__('os').system\""),
    (["graph", "__import__('os')"], "calling '__import__' is not allowed"),
    (["graph", "x.__class__", "--set", "x=1"], "attribute access"),
    (["graph", "y + 1", "--set", "x=1"], "'y' has no value"),
    (["graph", "x", "--set", "x"], "expected NAME=VALUE"),
    (["graph", "x", "--set", "x=1", "-o", "out.txt"], "cannot tell the picture format"),
    (["graph", "log(x)", "--set", "x=0"], "log of a non-positive number"),
])
def test_bad_input_gives_one_line_error_and_status_2(argv, message, capsys, tmp_path,
                                                     monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("microgradnn graph: error:") and message in err
    assert list(tmp_path.iterdir()) == []


def test_missing_dot_is_reported_with_install_hint(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(NEURON + ["-o", str(tmp_path / "n.svg")]) == 2
    err = capsys.readouterr().err
    assert "Install graphviz" in err and "apt-get install graphviz" in err
    assert not (tmp_path / "n.svg").exists()


def test_runs_as_a_module():
    result = subprocess.run([sys.executable, "-m", "microgradnn", "graph", "x*2", "--set", "x=1"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("digraph")


@pytest.mark.parametrize("argv", [
    ["graph", "-x*w", "--set", "x=2", "w=3"],
    ["graph", "--set", "x=2", "w=3", "-x*w"],
    ["graph", "--backward", "-(x*w)", "--set", "x=2", "w=3"],
    ["graph", "--set", "x=2", "w=3", "--", "-x*w"],
    ["backprop", "-x*w", "--set", "x=2", "w=3", "--quiet"],
])
def test_an_expression_may_start_with_a_minus(argv, capsys):
    assert main(argv) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    if argv[0] == "graph":
        assert out.startswith("digraph") and "-6.0000" in out


def test_the_readme_tour_expression_with_a_method_call(capsys):
    assert main(["graph", "(a*b + c).tanh()", "--set", "a=2", "b=-3", "c=6.8814", "--backward"]) == 0
    out = capsys.readouterr().out
    assert "tanh" in out and "0.7071" in out


@pytest.mark.parametrize("argv, message", [
    (["graph", "--backwrd", "--set", "x=1"], "unrecognized arguments: --backwrd"),
    (["graph", "x", "-y", "--set", "x=1"], "unrecognized arguments: -y"),
    (["graph", "--set", "x=1"], "required: EXPRESSION"),
])
def test_unknown_options_and_a_missing_expression_are_usage_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2 and message in capsys.readouterr().err
