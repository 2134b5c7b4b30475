"""``make pictures`` (docs/make_pictures.py) runs and writes the README's pictures.

The quick form trains on 2,000 digits and writes into a temporary folder; the pictures
committed in docs/ are made by the same script without ``--quick``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "docs" / "make_pictures.py"
PICTURES = ("neuron_graph.svg", "stepper.png", "backprop.gif", "mnist_network.svg",
            "mnist_weights.png", "mnist_stepper.png")
CHROMIUM = (os.environ.get("MICROGRADNN_CHROMIUM") or shutil.which("chromium")
            or "/usr/bin/chromium")
MNIST = os.environ.get("MICROGRADNN_DATA", "")



@pytest.mark.browser
@pytest.mark.mnist
@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz 'dot' not installed")
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium not installed")
@pytest.mark.skipif(not (MNIST and Path(MNIST, "t10k-labels-idx1-ubyte.gz").exists()),
                    reason="MNIST files not found: set MICROGRADNN_DATA (the Makefile does)")
def test_make_pictures_writes_every_readme_picture(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
               MPLBACKEND="Agg")
    result = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--out", str(tmp_path)],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(PICTURES)
    for name in PICTURES:
        assert f"wrote {tmp_path / name}" in result.stdout
        data = (tmp_path / name).read_bytes()
        if name.endswith(".gif"):
            assert data[:6] == b"GIF89a"
        elif name.endswith(".png"):
            assert data[:8] == b"\x89PNG\r\n\x1a\n"
            width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
            assert width >= 600 and height >= 400, (name, width, height)
        else:
            assert b"<svg" in data[:2000]
        assert len(data) < 400_000, f"{name} is {len(data)} bytes: too big for docs/"
    network = (tmp_path / "mnist_network.svg").read_text(encoding="utf-8")
    assert "one epoch on 2,000 MNIST digits" in network and "one test digit (a 7)" in network
    assert all(f"“{d}”" in network for d in range(10))  # the output neurons are the digits


def test_the_readme_shows_the_committed_pictures():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in PICTURES:
        assert f"](docs/{name})" in readme, f"README.md does not show docs/{name}"
        assert (ROOT / "docs" / name).is_file(), f"docs/{name} is not committed: run make pictures"
