"""The README's table of commands and flags is the parsers' own: one dialect, written once.

Every sub-command of ``microgradnn`` has a row in the table under "## The command line",
and the row names exactly the option strings its argparse parser accepts (``-h`` aside).
Also the dialect itself: a command that writes a file takes ``-o``, and a negative number
is an option's value.
"""

import argparse
import re
from pathlib import Path

import pytest

from microgradnn.cli import build_parser, main

README = Path(__file__).resolve().parents[1] / "README.md"
FLAG = re.compile(r"(?<![\w-])(-o|--[a-z][a-z-]*)(?![\w-])")
# commands that write nothing: no -o
READ_ONLY = {"eval", "predict"}


def _parsers():
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices


def _table():
    text = README.read_text(encoding="utf-8")
    section = text.split("## The command line", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        match = re.fullmatch(r"`([a-z]+)`", cells[0]) if line.startswith("|") else None
        if match:
            rows[match.group(1)] = set(FLAG.findall(" ".join(cells[1:])))
    return rows


def _options(parser):
    return {option for action in parser._actions for option in action.option_strings
            if option not in ("-h", "--help")}


def test_the_readme_table_lists_every_command_with_exactly_its_flags():
    table, parsers = _table(), _parsers()
    assert set(table) == set(parsers), "commands in the README table differ from the CLI"
    for name, parser in parsers.items():
        assert table[name] == _options(parser), name


def test_a_command_that_writes_a_file_names_it_with_dash_o():
    for name, parser in _parsers().items():
        assert ("-o" in _options(parser)) == (name not in READ_ONLY), name


def test_a_negative_number_is_an_option_value(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "d.png"
    assert main(["descent", "--function", "bowl", "--start", "-1.5,1.8", "--steps", "2",
                 "--optimizers", "sgd", "-o", str(out)]) == 0
    assert "from (-1.5000, 1.8000)" in capsys.readouterr().out
    assert main(["descent", "--function", "bowl", "--start", "-1.5", "-o", str(out)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_a_missing_optional_package_is_one_line(tmp_path, monkeypatch, capsys):
    import sys

    from microgradnn.checkpoint import save
    from microgradnn.models import build_model
    model = build_model({"model": "mlp", "hidden": [4]})
    path = save(model, tmp_path / "m.npz", model.spec)
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now fails
    assert main(["export", str(path), "-o", str(tmp_path / "m.pt")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pip install torch" in err
    assert main(["export", str(path), "-o", str(tmp_path / "m.npz")]) == 2
    assert "-o expects a file ending in .pt" in capsys.readouterr().err


def test_architecture_draws_an_mlp_checkpoint(tmp_path, capsys):
    pytest.importorskip("viz")
    from microgradnn.checkpoint import save
    from microgradnn.models import build_model
    model = build_model({"model": "mlp", "hidden": [16, 16]})
    path = save(model, tmp_path / "mlp.npz", model.spec)
    assert main(["architecture", str(path), "-o", "-"]) == 0
    out = capsys.readouterr().out
    assert "784 → 16" in out and "microgradnn demo" not in out
