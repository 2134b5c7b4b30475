"""The stepper as a quiz in a real browser: answers right, close and wrong, the hint, the
reveal after three tries, the score; the numbers the page accepts are the engine's."""

from __future__ import annotations

import pytest

from microgradnn.engine import Value
from viz.graph.dot import format_value
from viz.steps.backprop import backprop_steps
from viz.steps.page import save_stepper
from viz.steps.practice import rule_text

pytestmark = pytest.mark.browser


def neuron():
    x, w, b = Value(2.0, label="x"), Value(-3.0, label="w"), Value(6.8813735870195432, label="b")
    n = x * w + b
    n.label = "n"
    o = n.tanh()
    o.label = "o"
    return o


def quiz(tmp_path, open_page, root):
    path = tmp_path / "quiz.html"
    save_stepper(root, str(path), practice=True)
    return open_page(path, ready="#mg-quiz")


def field(page, term, name):
    return page.locator(f"#mg-quiz-questions input[data-term='{term}'][data-field='{name}']")


def verdict(page, term, name):
    return field(page, term, name).locator(
        "xpath=ancestor::div[contains(@class,'mg-q-field')]//span[contains(@class,'mg-verdict')]")


def hint(page, term, name):
    return field(page, term, name).locator(
        "xpath=ancestor::div[contains(@class,'mg-q-field')]//div[contains(@class,'mg-hint')]")


def answer(page, term, name, text):
    field(page, term, name).fill(text)
    field(page, term, name).press("Enter")


def test_right_close_wrong_hint_reveal_and_score(tmp_path, open_page):
    o = neuron()
    steps = backprop_steps(o)
    page = quiz(tmp_path, open_page, o)
    total = len(steps)
    assert page.text_content("#mg-counter") == f"1 / {total}"  # the seed: nothing to answer
    assert "Nothing to answer" in page.text_content("#mg-quiz-questions")
    page.keyboard.press("ArrowRight")  # keys work as in the stepper
    assert page.text_content("#mg-counter") == f"2 / {total}"

    tanh_step = steps[1]
    term = tanh_step.terms[0]
    n_id = term.operand_id
    # hidden: the operand's gradient, the table's local derivative and result, the caption
    assert page.text_content(f"#{n_id} text.mg-grad") == "?"
    cells = page.eval_on_selector_all("#mg-terms-body td", "tds => tds.map(t => t.textContent)")
    assert cells[1] == "?" and cells[3] == "?" and cells[5] == "?"
    assert "?" in page.text_content("#mg-caption") and format_value(term.local_grad) \
        not in page.text_content("#mg-caption")
    # Next is locked until the step is answered
    page.click("#mg-next")
    assert page.text_content("#mg-counter") == f"2 / {total}"

    # wrong: says so, with the rule from the op table and the rule at this node
    answer(page, 0, "local", "0.4")
    assert verdict(page, 0, "local").text_content().startswith("wrong (try 1 of 3)")
    shown_hint = hint(page, 0, "local").text_content()
    assert rule_text("tanh", 0, 1) == "∂(tanh(a))/∂a = 1 - tanh(a)²"
    assert "∂(tanh(a))/∂a = 1 - tanh(a)²" in shown_hint and "1 - o²" in shown_hint
    # close: within 5% but not to the digits shown
    answer(page, 0, "local", repr(term.local_grad * 1.02))
    assert verdict(page, 0, "local").text_content().startswith("close")
    assert hint(page, 0, "local").is_visible()
    # right: the engine's number as shown
    answer(page, 0, "local", format_value(term.local_grad))
    assert verdict(page, 0, "local").text_content() == "right"
    assert field(page, 0, "local").is_disabled()
    # three wrong tries: the answer is shown
    for wrong in ("3", "-0.5", "7"):
        answer(page, 0, "after", wrong)
    assert "check the sign" not in verdict(page, 0, "after").text_content()
    assert verdict(page, 0, "after").text_content() == \
        f"shown after 3 tries: {format_value(term.grad_after)}"
    assert field(page, 0, "after").input_value() == format_value(term.grad_after)
    # the step is done: its numbers appear and Next works again
    assert page.text_content(f"#{n_id} text.mg-grad") == format_value(term.grad_after)
    page.keyboard.press("ArrowRight")
    assert page.text_content("#mg-counter") == f"3 / {total}"

    # the other steps, right at the first try: the engine's numbers, typed in full
    for step in steps[2:]:
        for i, t in enumerate(step.terms):
            field(page, i, "local").fill(repr(t.local_grad))
            field(page, i, "after").fill(repr(t.grad_after))
        page.click("#mg-quiz-check")
        assert all(verdict(page, i, f).text_content() == "right"
                   for i in range(len(step.terms)) for f in ("local", "after"))
        page.keyboard.press("ArrowRight")
    asked = 2 * sum(len(s.terms) for s in steps)
    assert page.text_content("#mg-counter") == f"{total} / {total}"
    score = page.text_content("#mg-quiz-score")
    assert score == (f"Quiz done. Score: {asked - 1} of {asked} answers right "
                     f"({asked - 2} at the first try), 1 shown after 3 tries.")
    # going back shows what was answered; Home and End still work
    page.keyboard.press("Home")
    assert page.text_content("#mg-counter") == f"0 / {total}"
    page.keyboard.press("End")
    assert page.text_content("#mg-counter") == f"{total} / {total}"
    assert page.problems == []


def test_the_page_accepts_the_engines_numbers_only(tmp_path, open_page):
    """x*x + x: x's gradient accumulates; the page's "right" is the engine's running sum,
    and one unit off in the last digit shown is no longer right."""
    x = Value(1.5, label="x")
    y = x * x + x
    y.label = "y"
    steps = backprop_steps(y)
    page = quiz(tmp_path, open_page, y)
    page.keyboard.press("ArrowRight")  # the + node
    plus = steps[1]
    for i, t in enumerate(plus.terms):
        field(page, i, "local").fill(format_value(t.local_grad))
        field(page, i, "after").fill(format_value(t.grad_after))
    page.click("#mg-quiz-check")
    page.keyboard.press("ArrowRight")  # the * node: x twice, its gradient adds up
    times = steps[2]
    assert [t.operand_name for t in times.terms] == ["x", "x"]
    first, second = times.terms
    off = float(format_value(second.grad_after)) + 1e-4  # one unit of the shown digits
    field(page, 0, "local").fill(format_value(first.local_grad))
    field(page, 0, "after").fill(format_value(first.grad_after))  # 1 + 1.5
    field(page, 1, "local").fill(format_value(second.local_grad))
    field(page, 1, "after").fill(f"{off:.4f}")
    page.click("#mg-quiz-check")
    assert verdict(page, 0, "after").text_content() == "right"
    assert verdict(page, 1, "after").text_content().startswith("close")
    assert "∂(a*b)/∂b = a" in hint(page, 1, "after").text_content() or \
        "before" in hint(page, 1, "after").text_content()
    field(page, 1, "after").fill(format_value(second.grad_after))  # 1 + 1.5 + 1.5 = 4
    page.click("#mg-quiz-check")
    assert verdict(page, 1, "after").text_content() == "right"
    assert format_value(second.grad_after) == "4.0000"
    assert page.problems == []


def test_hostile_labels_stay_text(tmp_path, open_page):
    hostile = "</script><script>alert(1)</script><img src=x onerror=alert(2)>"
    x, w = Value(2.0, label=hostile), Value(-1.0, label="w")
    y = x * w
    y.label = "y"
    page = quiz(tmp_path, open_page, y)
    page.keyboard.press("ArrowRight")
    assert hostile in page.text_content("#mg-quiz-questions")
    assert page.locator("#mg-quiz img").count() == 0
    answer(page, 0, "local", "9")
    assert "∂(a*b)/∂a = b" in hint(page, 0, "local").text_content()
    assert page.problems == []


def test_with_the_forward_pass_no_local_derivative_shows_early(tmp_path, open_page):
    """In the stepper the forward pass writes every local derivative on its edge; in the
    quiz each stays "?" until its question is answered."""
    o = neuron()
    steps = backprop_steps(o, forward=True)
    path = tmp_path / "forward.html"
    save_stepper(o, str(path), forward=True, practice=True)
    page = open_page(path, ready="#mg-quiz")
    forward = sum(1 for s in steps if s.kind == "forward")
    for _ in range(forward):  # the page opens on step 1: end on the seed
        page.keyboard.press("ArrowRight")
    assert page.text_content("#mg-counter") == f"{forward + 1} / {len(steps)}"
    locals_shown = page.eval_on_selector_all("g.edge text.mg-local",
                                             "ts => ts.map(t => t.textContent)")
    assert locals_shown and all(t.endswith("?") for t in locals_shown)
    page.keyboard.press("End")  # clamped to the first step to answer
    assert page.text_content("#mg-counter") == f"{forward + 2} / {len(steps)}"
    assert page.problems == []


def test_the_neuron_level_asks_each_neurons_sigma_prime_and_delta(tmp_path, open_page):
    """A checkpoint's digit is stepped one neuron at a time: there the quiz asks σ'(z[l][j])
    and δ[l][j] of each neuron, the engine's numbers from its recorded backward pass."""
    import random

    from microgradnn import losses
    from microgradnn.nn import MLP
    from viz.graph.trace import trace
    from viz.steps.backprop import steps_from_trace
    from viz.steps.levels import neuron_steps

    model = MLP(5, [4, 3], activation="sigmoid", seed=0)
    rng = random.Random(0)
    loss = losses.cross_entropy(model([rng.uniform(-1, 1) for _ in range(5)]), 1)
    tr = trace(loss, model)
    steps = steps_from_trace(tr)
    level = neuron_steps(tr, steps)
    path = tmp_path / "neurons.html"
    save_stepper(loss, str(path), parameters=model, level="neuron", practice=True)
    page = open_page(path, ready="#mg-quiz")
    assert page.locator(".mg-clickable").count() == 0  # no box opens its scalar steps
    # the cost's step and the output neurons (no activation under cross-entropy) ask
    # nothing; the first hidden neuron asks its σ'(z) and δ
    first = next(s for s in level.steps if s.kind == "backward" and s.name.startswith("a[1]"))
    for _ in range(first.index):
        page.keyboard.press("ArrowRight")
    assert page.text_content("#mg-counter") == f"{first.index + 1} / {len(level.steps)}"
    act = next(steps[i] for i in first.scalar if steps[i].op == "sigmoid")
    term = act.terms[0]
    assert term.operand_name == first.name.replace("a[", "z[")
    assert field(page, 0, "local").count() == 1 and field(page, 1, "local").count() == 0
    cells = page.eval_on_selector_all("#mg-terms-body tr", "rs => rs.map(r => r.cells[5].textContent)")
    assert cells and all(c == "?" for c in cells)  # δ and what it passes back: hidden
    answer(page, 0, "local", "0.9")
    assert "∂(sigmoid(a))/∂a = sigmoid(a)*(1 - sigmoid(a))" in hint(page, 0, "local").text_content()
    answer(page, 0, "local", repr(term.local_grad))
    field(page, 0, "after").fill(repr(term.grad_after))  # δ: the engine's
    page.click("#mg-quiz-check")
    assert verdict(page, 0, "local").text_content() == "right"
    assert verdict(page, 0, "after").text_content() == "right"
    assert format_value(term.grad_after) in page.text_content("#mg-caption")
    page.keyboard.press("ArrowRight")
    assert page.text_content("#mg-counter") == f"{first.index + 2} / {len(level.steps)}"
    assert page.problems == []
