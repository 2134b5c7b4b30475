"""The Makefile's virtual environment: made with whatever python3 is first on PATH, and when
that Python cannot make one (Debian/Ubuntu without python3-venv), installed with apt-get as
root or else named in one command. Fake ``python3``, ``id`` and ``apt-get`` stand in for the
machine, so nothing is installed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
VERSION = "%d.%d" % sys.version_info[:2]


def fake_machine(tmp_path: Path, uid: int) -> Path:
    """A bin folder whose python3 cannot make a venv until the fake apt-get has 'installed' it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    marker = tmp_path / "python3-venv-installed"
    scripts = {
        # Debian's python3 without python3-venv: `-m venv` fails with ensurepip missing.
        "python3": f"""#!/bin/sh
if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then
  if [ -f {marker} ]; then exec {sys.executable} -m venv --without-pip "$3"; fi
  echo "The virtual environment was not created successfully because ensurepip is not available." >&2
  exit 1
fi
exec {sys.executable} "$@"
""",
        "id": f"#!/bin/sh\necho {uid}\n",
        "apt-get": f"""#!/bin/sh
echo "$@" >> {tmp_path / 'apt.log'}
case "$*" in *install*python3-venv*) touch {marker};; esac
""",
    }
    for name, text in scripts.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    return bin_dir


def make_venv(tmp_path: Path, bin_dir: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), "venv",
                           f"VENV={tmp_path / 'venv'}", "PYTHON=python3"],
                          env=env, capture_output=True, text=True, timeout=120)


def test_without_venv_support_a_user_is_told_the_one_command(tmp_path):
    result = make_venv(tmp_path, fake_machine(tmp_path, uid=1000))
    assert result.returncode != 0
    assert f"sudo apt-get install python3-venv python{VERSION}-venv" in result.stdout
    assert "ensurepip is not available" in result.stdout
    assert not (tmp_path / "venv").exists() and not (tmp_path / "apt.log").exists()


def test_without_venv_support_root_installs_python3_venv_and_goes_on(tmp_path):
    result = make_venv(tmp_path, fake_machine(tmp_path, uid=0))
    assert result.returncode == 0, result.stdout + result.stderr
    apt = (tmp_path / "apt.log").read_text()
    assert f"install -y -qq python3-venv python{VERSION}-venv" in apt
    assert (tmp_path / "venv" / "bin" / "python").exists()
    assert not (tmp_path / "venv.log").exists()


def test_venv_is_ignored_by_git_kept_by_clean_removed_by_distclean():
    assert ".venv/" in (ROOT / ".gitignore").read_text().split()

    def dry_run(target: str) -> str:
        return subprocess.run(["make", "--no-print-directory", "-n", "-C", str(ROOT), target],
                              capture_output=True, text=True, timeout=60, check=True).stdout

    clean, distclean = dry_run("clean"), dry_run("distclean")
    assert "microgradnn_out" in clean and "rm -rf .venv\n" not in clean
    assert "rm -rf .venv\n" in distclean
