"""``microgradnn demo`` and the CLI's front door, run as a user would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from microgradnn.cli import main


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "microgradnn", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=600)


@pytest.mark.slow
def test_demo_trains_to_full_accuracy_and_writes_every_picture(tmp_path):
    result = run_cli("demo", "--out", str(tmp_path / "out"), "--no-mnist", "--quiet")
    assert result.returncode == 0, result.stderr
    assert "accuracy 100%" in result.stdout
    out = tmp_path / "out"
    for name in ["moons_decision_boundary.png", "moons_training.png", "moons_network.svg",
                 "moons_sample_graph.svg", "neuron_backprop.html", "moons_sample_backprop.html"]:
        assert (out / name).stat().st_size > 1000, name
        assert name in result.stdout  # the user is told where each file is
    assert (out / "moons_decision_boundary.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in (out / "moons_sample_graph.svg").read_text()


def test_demo_without_mnist_says_how_to_get_it_and_succeeds(tmp_path, monkeypatch, capsys):
    env_dir = tmp_path / "empty"
    env_dir.mkdir()
    monkeypatch.setenv("MICROGRADNN_DATA", str(env_dir))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    code = main(["demo", "--out", str(tmp_path / "out"), "--steps", "2", "--quiet"])
    assert code == 0
    assert (tmp_path / "out" / "moons_decision_boundary.png").exists()
    printed = capsys.readouterr().out
    assert "MNIST is not on this machine" in printed and "MICROGRADNN_DATA" in printed


def test_demo_refuses_a_bad_step_count(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--steps", "0"]) == 2
    assert "--steps must be a positive integer, got 0" in capsys.readouterr().err


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "demo" in capsys.readouterr().out


def test_demo_without_graphviz_still_succeeds_and_says_so(tmp_path, monkeypatch, capsys):
    import shutil as shutil_module

    real_which = shutil_module.which
    monkeypatch.setattr(shutil_module, "which", lambda name, *a, **k: None if name == "dot" else real_which(name, *a, **k))
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))  # graphviz's own lookup fails too
    code = main(["demo", "--out", str(tmp_path / "out"), "--steps", "2", "--quiet", "--no-mnist"])
    printed = capsys.readouterr().out
    assert code == 0
    assert "`dot` is not installed" in printed
    assert (tmp_path / "out" / "moons_sample_graph.dot").read_text().startswith("digraph")
    assert (tmp_path / "out" / "moons_decision_boundary.png").exists()
    assert not (tmp_path / "out" / "moons_sample_backprop.html").exists()
