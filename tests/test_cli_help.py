"""Every ``microgradnn COMMAND --help`` reads as plain text and explains every option."""

from __future__ import annotations

import argparse
import re

import pytest

from microgradnn.cli import build_parser


def _commands():
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sorted(action.choices.items())


@pytest.mark.parametrize("name, parser", _commands())
def test_help_is_plain_text_and_every_option_says_what_it_does(name, parser):
    text = parser.format_help()
    assert "`" not in text, f"{name} --help shows reStructuredText markup"
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        words = re.sub(r"\(default:.*\)\s*$", "", action.help or "").strip()
        assert words, f"{name} {'/'.join(action.option_strings) or action.dest} has no help text"


def test_demo_and_train_help_name_what_they_do():
    commands = dict(_commands())
    assert commands["demo"].description.startswith("Train MLP 2-16-16-1 on 100 moons points")
    train = commands["train"].format_help()
    assert "passes over the training images" in train and "gradient step" in train
