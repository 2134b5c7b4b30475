"""Every example runs with ``--quick`` in a fresh folder, writes its pictures and prints
numbers that are right (not just present).

The MNIST examples need ``MICROGRADNN_DATA`` (set by the Makefile); they are marked
``mnist``. Without the data they must still exit 0 and say how to get it.
"""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, Optional

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
PNG = b"\x89PNG\r\n\x1a\n"
MNIST_DIR = os.environ.get("MICROGRADNN_DATA", "")
needs_mnist = pytest.mark.skipif(
    not (MNIST_DIR and Path(MNIST_DIR, "t10k-labels-idx1-ubyte.gz").exists()),
    reason="MNIST files not found: set MICROGRADNN_DATA (the Makefile does)")


def run(script: str, cwd: Path, *args: str, env: Optional[Dict[str, str]] = None,
        timeout: float = 300) -> str:
    """Run ``examples/<script>`` with ``sys.executable`` in ``cwd``; return its stdout."""
    environment = dict(os.environ if env is None else env)
    # The checkout first, so the examples test this code whatever is installed.
    environment["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT)] + ([environment["PYTHONPATH"]] if environment.get("PYTHONPATH") else []))
    environment.setdefault("MPLBACKEND", "Agg")
    result = subprocess.run([sys.executable, str(EXAMPLES / script), *args], cwd=cwd,
                            env=environment, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{script} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def assert_png(path: Path) -> None:
    assert path.is_file(), f"{path} was not written"
    assert path.read_bytes()[:8] == PNG, f"{path} is not a PNG"


def assert_svg(path: Path) -> None:
    assert path.is_file(), f"{path} was not written"
    assert "<svg" in path.read_text(encoding="utf-8")[:2000]


def numbers(pattern: str, text: str):
    """Every match of ``pattern`` in ``text`` with its groups as floats."""
    return [tuple(float(g) for g in m.groups()) for m in re.finditer(pattern, text)]


def test_examples_readme_lists_every_example_in_order():
    scripts = sorted(p.name for p in EXAMPLES.glob("[0-9][0-9]_*.py"))
    assert len(scripts) >= 8
    readme = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    positions = [readme.find(name) for name in scripts]
    assert -1 not in positions, f"missing from examples/README.md: {scripts[positions.index(-1)]}"
    assert positions == sorted(positions)


def test_01_value_prints_the_chain_rule_and_draws_the_graph(tmp_path):
    out = run("01_value.py", tmp_path)  # default --out: examples_out/01_value in the cwd
    assert "L = -8.0000" in out
    for name, grad in [("a", 6.0), ("b", -4.0), ("c", -2.0), ("f", 4.0), ("d", -2.0)]:
        assert f"∂L/∂{name} = {grad:.4f}" in out
    (slope, told), = numbers(r"/ h = (-?\d+\.\d+)\s+\(backprop said (-?\d+\.\d+)\)", out)
    assert slope == told == 6.0
    folder = tmp_path / "examples_out" / "01_value"
    assert_svg(folder / "graph.svg")
    assert_png(folder / "graph.png")
    svg = html.unescape((folder / "graph.svg").read_text(encoding="utf-8"))
    assert ">6.0000<" in svg and ">-8.0000<" in svg  # a's grad and L's data are drawn


def test_03_gradcheck_agrees_and_catches_the_wrong_op(tmp_path):
    out = run("03_gradcheck.py", tmp_path, "--quick", "--out", "pics")
    pairs = numbers(r"backprop (-?\d+\.\d+)\s+finite difference (-?\d+\.\d+)", out)
    assert len(pairs) == 8
    assert all(a == n for a, n in pairs)
    errors = [e for (e,) in numbers(r"largest difference: (\d\.\d+e[-+]\d+)", out)]
    assert len(errors) == 4 and max(errors) < 1e-7
    steps = numbers(r"h = (\d(?:\.\d)?e-\d+)\s+\|finite difference - backprop\| = (\d\.\d+e[-+]\d+)", out)
    assert steps[0][1] > 1e-4 and min(e for _, e in steps) < 1e-9  # too big an h is visibly wrong
    assert [h for h, _ in steps] == [10.0 ** -k for k in range(1, 13)]  # every power of ten shown
    (best_h, best_error), = numbers(r"best h here: (\d(?:\.\d)?e-\d+) \(error (\d\.\d+e[-+]\d+)\)", out)
    assert (best_h, best_error) in steps and best_error == min(e for _, e in steps)
    marked, = re.findall(r"h = (\S+) .*<- best h here", out)
    assert float(marked) == best_h  # the best h is a row of the table, marked
    assert "caught: gradcheck failed at input 0" in out and "not caught" not in out
    assert_png(tmp_path / "pics" / "step_size.png")


def test_04_toy_mlp_learns_each_problem(tmp_path):
    out = run("04_toy_mlp.py", tmp_path, "--quick", "--out", "pics")
    results = numbers(r"loss (\d+\.\d+) -> (\d+\.\d+), accuracy (\d+\.\d+) -> (\d+\.\d+)", out)
    assert len(results) == 3
    for loss0, loss1, acc0, acc1 in results:
        assert loss1 < loss0 and acc1 >= acc0
    moons = results[0]
    assert moons[3] >= 0.75  # a few steps already separate the moons well beyond chance
    assert "MLP(2 -> 24 -> 24 -> 3" in out  # the spiral has three classes
    for name in ("moons", "circles", "spiral"):
        assert_png(tmp_path / "pics" / f"{name}_boundary.png")
        assert_png(tmp_path / "pics" / f"{name}_curves.png")


def test_07_conv_by_hand_gradients_match_the_rules(tmp_path):
    out = run("07_conv_by_hand.py", tmp_path, "--quick", "--out", "pics")
    assert "stride 1, padding 0: output 4x4" in out and "stride 2, padding 1: output 3x3" in out
    assert "L = sum of the 4x4 outputs = 32.0000" in out
    assert "numpy check: kernel grad True, image grad = full convolution with the flipped kernel True" in out
    assert "microgradnn.tensor.conv2d agrees: kernel grad True, image grad True" in out
    # ∂L/∂kernel: each weight touched a 4x4 block of pixels; the first column of the image
    # blocks sums to 5, 6, 7 going down (the edge moves left in the lower half).
    block = out.split("∂L/∂kernel")[1].splitlines()[1:4]
    assert [[float(v) for v in row.split()] for row in block] == [[5, 9, 13], [6, 10, 14], [7, 11, 15]]
    assert "9 products, 3 of them with the zero border" in out
    assert_png(tmp_path / "pics" / "conv_grids.png")
    assert_svg(tmp_path / "pics" / "one_output_pixel.svg")


def test_02_neuron_stepper_walks_through_backprop(tmp_path):
    out = run("02_neuron_stepper.py", tmp_path, "--quick", "--out", "pics")
    assert "o = tanh(n) = tanh(0.8814) = 0.7071" in out
    grads = {name: float(v) for name, v in re.findall(r"^∂o/∂(\w+) = (-?\d+\.\d+)$", out, re.M)}
    assert grads == {"x1": -1.5, "w1": 1.0, "x2": 0.5, "w2": 0.0, "b": 0.5}
    assert "∂o/∂n = 1 - o**2 = 0.5000" in out
    assert "Backprop, step by step (6 steps)" in out and "[6/6]" in out
    assert "same gradients as the tanh node: True" in out
    page = (tmp_path / "pics" / "neuron_stepper.html").read_text(encoding="utf-8")
    assert "One tanh neuron" in page and "<svg" in page
    assert_svg(tmp_path / "pics" / "neuron.svg")
    assert_svg(tmp_path / "pics" / "neuron_tanh_from_exp.svg")


# ---------------------------------------------------------------- MNIST examples

MNIST_EXAMPLES = ["05_mnist_mlp.py", "06_mnist_cnn.py", "08_gibberish.py", "10_cnn_families.py"]


@pytest.mark.parametrize("script", MNIST_EXAMPLES)
def test_mnist_examples_without_data_explain_and_succeed(script, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "MICROGRADNN_DATA"}
    env["XDG_CACHE_HOME"] = str(tmp_path / "empty-cache")  # no cached copy either
    out = run(script, tmp_path, "--quick", "--out", "pics", env=env, timeout=120)
    assert "MNIST is not available" in out
    assert "MICROGRADNN_DATA is not set" in out and "--download" in out
    assert not (tmp_path / "empty-cache" / "microgradnn").exists()  # nothing was downloaded
    assert not any((tmp_path / "pics").iterdir())


@pytest.mark.mnist
@needs_mnist
def test_05_mnist_mlp_sigmoid_vs_relu(tmp_path):
    out = run("05_mnist_mlp.py", tmp_path, "--quick", "--out", "pics")
    learned = {name: (float(before), float(after), int(points)) for name, before, after, points in
               re.findall(r"(sigmoid|relu): 13002 parameters, .* test accuracy (\d\.\d+) untrained "
                          r"-> (\d\.\d+) \((\d+) points per curve\)", out)}
    assert set(learned) == {"sigmoid", "relu"}
    for name, (before, after, points) in learned.items():
        # quick mode still shows learning: from chance (0.1) to well above it, on a real curve
        assert before < 0.2 and after > 0.6, (name, before, after)
        assert points >= 20
    shares = dict(re.findall(r"(sigmoid|relu): (\d\.\d+) at the start", out))
    # vanishing gradients: sigmoid's first layer gets a far smaller share than ReLU's
    assert float(shares["sigmoid"]) < 0.05 < float(shares["relu"])
    for name in ("sigmoid", "relu"):
        for kind in ("curves", "weights", "activations"):
            assert_png(tmp_path / "pics" / f"{name}_{kind}.png")
    for name in ("gradient_flow", "relu_confusion", "relu_misclassified"):
        assert_png(tmp_path / "pics" / f"{name}.png")


@pytest.mark.mnist
@needs_mnist
def test_06_mnist_cnn_filters_and_maps(tmp_path):
    out = run("06_mnist_cnn.py", tmp_path, "--quick", "--out", "pics")
    assert "CNN with 9098 parameters" in out  # 8*9+8 + 16*8*9+16 + 784*10+10
    (accuracy,), = numbers(r"test accuracy (\d\.\d+)", out)
    assert accuracy > 0.3
    assert "conv 1 gives (8, 28, 28)" in out and "gives (16, 14, 14)" in out
    for name in ("curves", "conv1_filters", "conv2_filters", "conv1_feature_maps",
                 "conv2_feature_maps", "confusion", "misclassified"):
        assert_png(tmp_path / "pics" / f"{name}.png")


@pytest.mark.mnist
@needs_mnist
def test_08_gibberish_gets_confident_answers(tmp_path):
    out = run("08_gibberish.py", tmp_path, "--quick", "--out", "pics")
    (accuracy, _), = numbers(r"test accuracy (\d\.\d+), mean confidence on real digits (\d\.\d+)", out)
    assert accuracy > 0.7
    fooled = numbers(r"target (\d): the network says (\d) with p = (\d\.\d+)", out)
    assert len(fooled) == 10
    hits = [p for target, said, p in fooled if target == said]
    assert len(hits) >= 8 and min(hits) > 0.9  # noise, nudged, becomes a near-certain digit
    for name in ("noise_predictions", "fooling_images", "confidence"):
        assert_png(tmp_path / "pics" / f"{name}.png")


# ---------------------------------------------------------------- gradient descent

def _check_09_descent_parts(out: str, folder: Path) -> None:
    slopes = dict(numbers(r"at w = (-?\d\.\d+): C = -?\d\.\d+, slope ∂C/∂w = (-?\d+\.\d+)", out))
    assert slopes == {-0.3: 1.392, 0.3: -0.792}  # d/dw (w^2-1)^2 + 0.3w = 4w(w^2-1) + 0.3
    assert "(positive: step left)" in out and "(negative: step right)" in out
    rests = [w for (w,) in numbers(r"the ball rests at w = (-?\d\.\d+)", out)]
    assert rests == [-1.0356, 0.9601]  # the two roots of 4w^3 - 4w + 0.3 = 0 that are minima
    ((angle,),) = numbers(r"lowers C most is (\d+\.\d+) degrees from -gradient", out)
    assert angle < 1.0  # the steepest way down is minus the gradient
    final = dict((w, c) for w, c in re.findall(r"\((too \w+|good)\): after 60 steps C = (\d+\.\d+)", out))
    assert float(final["good"]) < float(final["too small"]) < 10 < float(final["too large"])
    assert re.findall(r"from \([^)]*\): the (global|local) minimum", out) == \
        ["local", "global", "local", "local"]
    (sgd_turns, momentum_turns), = numbers(r"turns back (\d+) times in 60 steps; momentum .* (\d+) times", out)
    assert sgd_turns > 10 and momentum_turns == 0
    for name in ("one_input", "two_inputs", "learning_rates", "local_global", "optimizers",
                 "ravine"):
        assert_png(folder / f"{name}.png")
    assert (folder / "descent.gif").read_bytes()[:6] == b"GIF89a"


def test_09_gradient_descent_without_mnist_tells_the_first_five_parts(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "MICROGRADNN_DATA"}
    env["XDG_CACHE_HOME"] = str(tmp_path / "empty-cache")
    out = run("09_gradient_descent.py", tmp_path, "--quick", "--out", "pics", env=env)
    _check_09_descent_parts(out, tmp_path / "pics")
    assert "MNIST is not available" in out
    assert not (tmp_path / "pics" / "landscape_random.png").exists()


@pytest.mark.mnist
@needs_mnist
def test_09_gradient_descent_ends_on_the_real_networks_landscape(tmp_path):
    out = run("09_gradient_descent.py", tmp_path, "--quick", "--out", "pics")
    _check_09_descent_parts(out, tmp_path / "pics")
    assert "13002 parameters, so the cost is a function of 13002 numbers" in out
    ((accuracy,),) = numbers(r"test accuracy (\d\.\d+); 21 weight snapshots", out)
    assert accuracy > 0.5
    ((centre,),) = numbers(r"\(\d+\.\d s\): cost (\d+\.\d+) at the trained weights", out)
    ((start, end),) = numbers(r"on it the cost went (\d+\.\d+) -> (\d+\.\d+)", out)
    assert end == centre < start  # the path ends at the centre, downhill from where it began
    for name in ("landscape_random", "landscape_path"):
        assert_png(tmp_path / "pics" / f"{name}.png")
@pytest.mark.mnist
@needs_mnist
def test_10_cnn_families_table_and_diagram(tmp_path):
    out = run("10_cnn_families.py", tmp_path, "--quick", "--steps", "5", "--only", "lenet5,resnet",
              "--out", "pics")
    assert re.search(r"lenet5\s+61,706\s+5\s+\d+\s+\d+\.\d+%", out)
    assert re.search(r"resnet\s+[\d,]+\s+5\s+\d+\s+\d+\.\d+%", out)
    for kind in ("lenet5", "resnet"):
        assert (tmp_path / "pics" / f"{kind}.svg").stat().st_size > 1000
