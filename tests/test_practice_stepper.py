"""The quiz's data (the engine's numbers, rules from the op table), the expression generator
and the ``backprop --practice --random`` command line."""

from __future__ import annotations

import json
import re

import pytest

from microgradnn.cli import main
from microgradnn.engine import OPS, Value
from microgradnn.exercises import DIFFICULTIES, OP_CHOICES, random_expression
from microgradnn.expression import parse_expression
from viz.html import read_web_file
from viz.steps.backprop import backprop_steps
from viz.steps.page import stepper_html
from viz.steps.practice import practice_data, right_tolerance, rule_text


def page_data(page: str) -> dict:
    return json.loads(re.search(r'id="mg-data">(.*?)</script>', page, re.S).group(1))


def test_rules_come_from_the_op_table():
    assert rule_text("*", 0, 2) == "∂(a*b)/∂a = b"
    assert rule_text("*", 1, 2) == "∂(a*b)/∂b = a"
    assert rule_text("/", 1, 2) == "∂(a/b)/∂b = -a/b²"
    assert rule_text("tanh", 0, 1) == "∂(tanh(a))/∂a = 1 - tanh(a)²"
    assert rule_text("sigmoid", 0, 1) == "∂(sigmoid(a))/∂a = sigmoid(a)*(1 - sigmoid(a))"
    assert rule_text("**2", 0, 1) == "∂(a**2)/∂a = 2*a"
    assert rule_text("**", 1, 2) == "∂(a**b)/∂b = (a**b)*log(a)"
    assert rule_text("Σwx+b", 0, 5) == "∂(Σ w_i*x_i + b)/∂w_i = x_i"
    assert rule_text("Σwx+b", 3, 5) == "∂(Σ w_i*x_i + b)/∂x_i = w_i"
    assert rule_text("Σwx+b", 4, 5) == "∂(Σ w_i*x_i + b)/∂b = 1"
    assert rule_text("nope", 0, 1) == ""
    for key, op in OPS.items():  # every op of the table has a rule for every slot
        n = op.arity if op.arity is not None else 3
        if key == "**k":
            continue
        assert all(rule_text(key, slot, n).startswith("∂(") for slot in range(n))


def test_answers_are_the_engines_numbers():
    x, w = Value(1.5, label="x"), Value(-2.0, label="w")
    y = (x * w + x).tanh() * x
    steps = backprop_steps(y)
    data = practice_data(steps)
    asked = 0
    for step in steps:
        if step.kind != "backward":
            assert str(step.index) not in data["questions"]
            continue
        for q, term in zip(data["questions"][str(step.index)], step.terms):
            assert q["local"]["value"] == term.local_grad  # the node's stored local_grads
            assert q["after"]["value"] == term.grad_after  # what backward() left
            assert q["edge"] == term.edge_id and q["operand"] == term.operand_id
            asked += 2
    assert data["count"] == asked
    y.backward()
    finals = {t.operand_name: t.grad_after for s in steps for t in s.terms}
    assert finals["x"] == x.grad and finals["w"] == w.grad


def test_right_means_the_digits_shown():
    assert right_tolerance(0.5) == 0.5e-4
    assert right_tolerance(-123.25) == 0.5e-4
    assert right_tolerance(2.5e-6) == pytest.approx(0.5e-10)


def test_the_quiz_is_on_the_page_only_when_asked():
    x = Value(2.0, label="x")
    y = x * x
    plain, quiz = stepper_html(y), stepper_html(y, practice=True)
    practice_js = read_web_file("viz.steps", "practice.js")
    assert "practice" not in page_data(plain) and practice_js not in plain
    assert practice_js in quiz and read_web_file("viz.steps", "practice.css") in quiz
    assert page_data(quiz)["practice"]["count"] == 4
    with pytest.raises(ValueError, match="needs the model"):  # as without practice
        stepper_html(y, practice=True, level="neuron")


@pytest.mark.parametrize("difficulty", sorted(DIFFICULTIES))
def test_random_expressions_parse_and_stay_tame(difficulty):
    depth, ops = DIFFICULTIES[difficulty]
    seen = set()
    for seed in range(30):
        exercise = random_expression(seed, depth, ops)
        assert exercise == random_expression(seed, depth, ops)  # a seed gives one exercise
        seen.add(exercise.expression)
        root = parse_expression(exercise.expression, exercise.values)
        root.backward()
        used = set(re.findall(r"[a-z]+(?=\()", exercise.expression))
        assert used <= {op for op in ops}, exercise.expression
        assert all(v % 0.5 == 0 for v in exercise.values.values())
        assert abs(root.data) < 100
    assert len(seen) > 20  # always a new one


def test_random_expression_refuses_bad_arguments():
    with pytest.raises(ValueError, match="depth must be a whole number 1..6"):
        random_expression(0, depth=0)
    with pytest.raises(ValueError, match="ops must be some of"):
        random_expression(0, ops=("+", "sin"))
    with pytest.raises(ValueError, match="at least one of"):
        random_expression(0, ops=("tanh",))
    assert set(OP_CHOICES) >= set(DIFFICULTIES["hard"][1])


def test_log_and_division_stay_away_from_trouble():
    for seed in range(60):
        exercise = random_expression(seed, 3, ("+", "-", "/", "log"))
        root = exercise.build()  # log of a non-positive or 1/0 would raise here
        assert root.data == root.data


def test_cli_practice_and_random(tmp_path, capsys):
    out = tmp_path / "quiz.html"
    assert main(["backprop", "--random", "7", "--difficulty", "easy", "--practice",
                 "--html", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    exercise = random_expression(7, *DIFFICULTIES["easy"])
    assert f"exercise 7 (easy): {exercise.expression}" in printed
    assert page_data(out.read_text(encoding="utf-8"))["practice"]["count"] > 0


@pytest.mark.parametrize("argv, message", [
    (["backprop", "x*w", "--set", "x=1", "w=2", "--practice"],
     "--practice makes the HTML page a quiz"),
    (["backprop", "x*w", "--random", "3"], "--random draws its own expression"),
    (["backprop", "x*w", "--set", "x=1", "w=2", "--difficulty", "hard"], "give --random SEED"),
])
def test_cli_refuses_in_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_the_neuron_level_asks_the_engines_sigma_prime_and_delta():
    import random

    from microgradnn import losses
    from microgradnn.nn import MLP
    from viz.graph.notation import neuron_outputs
    from viz.graph.trace import trace
    from viz.steps.backprop import steps_from_trace
    from viz.steps.levels import neuron_steps
    from viz.steps.practice import level_practice_data

    model = MLP(4, [3, 3, 2], activation="tanh", seed=1)
    rng = random.Random(1)
    loss = losses.mse_loss(model([rng.uniform(-1, 1) for _ in range(4)]), [0.0, 1.0])
    tr = trace(loss, model)
    steps = steps_from_trace(tr)
    level = neuron_steps(tr, steps)
    data = level_practice_data(tr, level, steps)
    model.zero_grad()
    loss.backward()
    by_name = {}
    for l, j, out_id, z_id in neuron_outputs(tr).values():
        out, z = tr.by_id[out_id].value, tr.by_id[z_id].value
        if out is not z:
            by_name[f"δ[{l}][{j}] = ∂C/∂z[{l}][{j}]"] = (out.local_grads[0], z.grad)
    asked = [q for qs in data["questions"].values() for q in qs]
    assert len(asked) == len(by_name) == 6  # the hidden neurons (tanh); the outputs are linear
    for q in asked:
        local, delta = by_name[q["afterLabel"]]
        assert q["local"]["value"] == local and q["after"]["value"] == delta
        assert q["rule"] == "∂(tanh(a))/∂a = 1 - tanh(a)²"
