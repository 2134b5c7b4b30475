"""The README's picture of a quiz step: ``docs/practice_quiz.png`` (``make practice-screenshot``).

    python docs/practice_screenshot.py [--out DIR]

Writes the tour neuron's stepper as a quiz (``viz.save_stepper(..., practice=True)``), opens
it in headless chromium, answers the first two backward steps right with the numbers the
page itself would accept (the engine's, from ``viz.backprop_steps``), and at the ``x*w``
step types one right answer and one wrong one, so the picture shows a verdict of each kind
and the hint naming the rule. Needs the OS's chromium and the ``playwright`` package.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_pictures import browser_page, tour_neuron  # noqa: E402

import viz  # noqa: E402
from microgradnn.fileio import write_atomic  # noqa: E402
from viz.graph.dot import format_value  # noqa: E402

DOCS = Path(__file__).resolve().parent


def answer_step(page, step) -> None:
    for i, term in enumerate(step.terms):
        page.fill(f"input[data-term='{i}'][data-field='local']", format_value(term.local_grad))
        page.fill(f"input[data-term='{i}'][data-field='after']", format_value(term.grad_after))
    page.click("#mg-quiz-check")
    page.keyboard.press("ArrowRight")


def photograph(page_path: Path, width: int = 1100, height: int = 860) -> bytes:
    steps = viz.backprop_steps(tour_neuron())
    with browser_page(width, height) as page:
        page.goto(page_path.as_uri())
        page.wait_for_selector("#mg-quiz")
        page.keyboard.press("ArrowRight")  # from the seed to the first backward step
        answer_step(page, steps[1])  # tanh
        answer_step(page, steps[2])  # +
        times = steps[3]  # x*w: dx right, dw's local derivative wrong (x, not w)
        x_term, w_term = times.terms
        page.fill("input[data-term='0'][data-field='local']", format_value(x_term.local_grad))
        wrong = format_value(w_term.local_grad * -1.5)  # w's value where x's belongs
        page.fill("input[data-term='1'][data-field='local']", wrong)
        page.click("#mg-quiz-check")
        return page.screenshot(full_page=False)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DOCS, help="folder (default: docs/)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        page_path = Path(folder) / "quiz.html"
        viz.save_stepper(tour_neuron(), str(page_path), practice=True,
                         title="Backpropagation quiz: o = tanh(x*w + b)")
        png = photograph(page_path)
    path = args.out / "practice_quiz.png"
    write_atomic(path, png)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
