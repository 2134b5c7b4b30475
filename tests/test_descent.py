"""Gradient descent paths (viz.plots.descent): the same numbers as torch.optim, the named
surfaces behave as their descriptions say, the pictures carry what they claim, and bad
input is one clear line."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import viz
from microgradnn import Value
from viz.plots.descent import FUNCTIONS, OPTIMIZERS, evaluate, gradient, path_status


def issue_f(x, y):
    return (x ** 2 - 1) ** 2 + 0.5 * (y - x) ** 2 + 0.3 * x


def torch_path(f, start, optimizer, lr, steps, **kwargs):
    """The same descent with torch.optim in float64."""
    params = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in start]
    if optimizer == "adam":
        opt = torch.optim.Adam(params, lr=lr, **kwargs)
    else:
        if optimizer in ("momentum", "nesterov"):
            kwargs.setdefault("momentum", 0.9)
        if optimizer == "nesterov":
            kwargs.setdefault("nesterov", True)
        opt = torch.optim.SGD(params, lr=lr, **kwargs)
    rows = [list(start)]
    for _ in range(steps):
        opt.zero_grad()
        f(*params).backward()
        opt.step()
        rows.append([p.item() for p in params])
    return np.array(rows)


# ------------------------------------------------------------------ the numbers

@pytest.mark.parametrize("name", list(FUNCTIONS))
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_every_named_surface_and_optimizer_follows_torch_optim(name, optimizer):
    cf = FUNCTIONS[name]
    ours = viz.descent_path(name, optimizer=optimizer)
    lr = cf.suggested_lr(optimizer)
    theirs = torch_path(cf.f, cf.start, optimizer, lr, cf.steps)
    assert ours.shape == (cf.steps + 1, 2) and ours.dtype == np.float64
    assert np.array_equal(ours[0], cf.start)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9)


@pytest.mark.parametrize("optimizer,kwargs", [
    ("sgd", {"weight_decay": 0.1}),
    ("momentum", {"momentum": 0.5, "dampening": 0.3}),
    ("nesterov", {"momentum": 0.8, "weight_decay": 0.01}),
    ("adam", {"betas": (0.8, 0.95), "eps": 1e-6, "weight_decay": 0.05}),
    ("adam", {"amsgrad": True}),
])
def test_optimizer_options_pass_through_with_pytorch_semantics(optimizer, kwargs):
    ours = viz.descent_path(issue_f, start=(-1.5, 1.8), optimizer=optimizer, lr=0.05, steps=60,
                            **kwargs)
    theirs = torch_path(issue_f, (-1.5, 1.8), optimizer, 0.05, 60, **dict(kwargs))
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9)


def test_the_issue_example_runs_and_each_step_goes_downhill_for_small_sgd_steps():
    path = viz.descent_path(issue_f, start=(-1.5, 1.8), optimizer="sgd", lr=0.01, steps=60)
    costs = evaluate(issue_f, path[:, 0], path[:, 1])
    assert np.all(np.diff(costs) < 0)  # a small enough step always lowers the cost


def test_one_input_functions_give_one_column_and_step_against_the_slope():
    path = viz.descent_path(lambda w: (w - 3) ** 2, start=(0.0,), lr=0.25, steps=2)
    # slope at 0 is -6: step right by 0.25 * 6 = 1.5, then half the remaining way again
    assert path.tolist() == [[0.0], [1.5], [2.25]]


def test_gradient_comes_from_backward():
    cost, g = gradient("bowl", (1.5, -2.0))
    assert cost == 6.25 and g.tolist() == [3.0, -4.0]
    _, g = gradient(lambda x, y: (x * y).tanh(), (0.5, 2.0))
    assert g.tolist() == pytest.approx([2.0 * (1 - math.tanh(1.0) ** 2),
                                        0.5 * (1 - math.tanh(1.0) ** 2)], rel=1e-14)


# ------------------------------------------------------------------ the named surfaces

@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_listed_critical_points_are_flat_and_of_the_stated_kind(name):
    cf = FUNCTIONS[name]
    assert cf.points and cf.start
    for label, point in cf.points:
        _, g = gradient(name, point)
        assert np.abs(g).max() < 1e-9, (label, point, g)
        # curvature from backward() at nearby points: up every way at a minimum,
        # up one way and down another at a saddle point
        hessian = _hessian(name, point)
        curvatures = np.linalg.eigvalsh((hessian + hessian.T) / 2)
        if label.endswith("minimum"):
            assert curvatures.min() > 0
        else:
            assert curvatures.min() < 0 < curvatures.max()
    cost = {label: evaluate(name, np.array([p[0]]), np.array([p[1]]))[0] for label, p in cf.points}
    if "local minimum" in cost:
        assert cost["global minimum"] < cost["local minimum"]


def _hessian(name, point, h=1e-5):
    rows = []
    for e in np.eye(2):
        rows.append((gradient(name, np.add(point, h * e))[1]
                     - gradient(name, np.subtract(point, h * e))[1]) / (2 * h))
    return np.array(rows)


def _reversals(path):
    """Fraction of steps that turn back (more than 90 degrees) from the step before."""
    steps = np.diff(path, axis=0)
    return float(np.mean(np.sum(steps[1:] * steps[:-1], axis=1) < 0))


def _crossings(path):
    """Fraction of steps whose move across the valley (y) undoes the one before."""
    dy = np.sign(np.diff(path[:, 1]))
    return float(np.mean(dy[1:] * dy[:-1] < 0))


def test_ravine_sgd_zig_zags_while_momentum_rolls_along_the_floor():
    sgd = viz.descent_path("ravine", optimizer="sgd")
    # momentum's top speed is lr / (1 - momentum) times the slope: at a tenth of SGD's lr
    # (the ravine's suggested lr) it moves along the floor as fast, but curves smoothly
    # instead of bouncing from wall to wall.
    lr = FUNCTIONS["ravine"].suggested_lr("sgd")
    assert FUNCTIONS["ravine"].suggested_lr("momentum") == pytest.approx(lr * (1 - 0.9))
    momentum = viz.descent_path("ravine", optimizer="momentum")
    assert _crossings(sgd) == 1.0  # every single step crosses the valley
    assert _reversals(sgd[:13]) == 1.0  # and, at first, turns back on the step before
    assert _crossings(momentum) < 0.2 and _reversals(momentum) == 0.0
    cost = lambda p: evaluate("ravine", p[-1:, 0], p[-1:, 1])[0]  # noqa: E731
    assert cost(momentum) < cost(sgd)
    # at SGD's own learning rate momentum swings from wall to wall instead: no free lunch
    swinging = viz.descent_path("ravine", optimizer="momentum", lr=lr)
    assert _reversals(swinging) > 0.3


def test_two_valleys_the_start_decides_which_minimum_the_ball_finds():
    cf = FUNCTIONS["two-valleys"]
    minima = dict(cf.points)
    right = viz.descent_path("two-valleys", start=(1.2, -1.6), optimizer="sgd", steps=600)
    left = viz.descent_path("two-valleys", start=(-1.5, 1.8), optimizer="sgd", steps=600)
    np.testing.assert_allclose(right[-1], minima["local minimum"], atol=1e-6)
    np.testing.assert_allclose(left[-1], minima["global minimum"], atol=1e-6)
    # with momentum the ball started on the right rolls over the ridge into the deeper valley
    rolled = viz.descent_path("two-valleys", start=(1.2, -1.6), optimizer="momentum", steps=300)
    np.testing.assert_allclose(rolled[-1], minima["global minimum"], atol=1e-3)


def test_saddle_slows_the_ball_down_then_lets_it_escape():
    path = viz.descent_path("saddle", optimizer="sgd", steps=200)
    speed = np.linalg.norm(np.diff(path, axis=0), axis=1)
    near = np.linalg.norm(path, axis=1) < 0.25
    assert near.sum() >= 10  # ten steps or more within 0.25 of the saddle point
    assert speed[near[:-1]].min() < 0.1 * speed[0]  # there it slows to a tenth of its speed
    assert abs(path[-1, 1]) == pytest.approx(math.sqrt(2), abs=1e-6)


# ------------------------------------------------------------------ divergence

def test_too_large_a_learning_rate_is_drawn_up_to_the_border_and_called_diverged():
    path = viz.descent_path("bowl", optimizer="sgd", lr=1.05, steps=30)
    assert np.all(np.isfinite(path))  # it grows by 1.1 a step: no overflow yet
    status = path_status("bowl", path, [(-2, 2), (-2, 2)])
    assert status.diverged and status.left_at is not None
    last = status.visible[-1]
    assert max(abs(last)) == pytest.approx(2.0)  # ends on the border
    assert status.visible.shape[0] == status.left_at + 1
    fig = viz.plot_descent("bowl", {"lr 1.05": path, "lr 0.1": viz.descent_path("bowl")})
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert f"lr 1.05: diverged, left the picture at step {status.left_at}" in texts
    assert any(t.startswith("lr 0.1: 60 steps, final cost 0.0000") for t in texts)


def test_overflow_stops_the_path_with_a_warning_and_nan_rows():
    with pytest.warns(RuntimeWarning, match=r"stopped at step \d+ of 40: .*learning rate 0.1 is "
                                            r"probably too large"):
        path = viz.descent_path("rosenbrock", optimizer="sgd", lr=0.1, steps=40)
    bad = ~np.all(np.isfinite(path), axis=1)
    first = int(np.argmax(bad))
    assert bad.any() and bad[first:].all() and not bad[:first].any()
    status = path_status("rosenbrock", path, [(-2, 2), (-1, 3)])
    assert status.diverged


# ------------------------------------------------------------------ pictures

def test_contour_picture_has_colour_bar_paths_arrows_and_final_costs():
    paths = {name: viz.descent_path("two-valleys", optimizer=name) for name in ("sgd", "adam")}
    fig = viz.plot_descent("two-valleys", paths)
    ax, bar = fig.axes[0], fig.axes[1]
    assert bar.get_ylabel() == "cost C(x, y)"
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    for name, p in paths.items():
        final = evaluate("two-valleys", p[-1:, 0], p[-1:, 1])[0]
        assert f"{name}: 60 steps, final cost {final:.4f}" in texts
        (line,) = [ln for ln in ax.lines if ln.get_label().startswith(name + ":")]
        np.testing.assert_array_equal(np.column_stack(line.get_data()), p)  # a dot per step
    assert any("steepest descent" in t for t in texts)
    assert {"global minimum", "local minimum", "saddle point"} <= set(texts)
    arrows = [a for a in ax.texts if getattr(a, "arrow_patch", None) is not None]
    assert len(arrows) == 1  # both paths share one start
    start = paths["sgd"][0]
    _, g = gradient("two-valleys", start)
    tip = np.array(arrows[0].xy) - start
    assert np.dot(tip, -g) / (np.linalg.norm(tip) * np.linalg.norm(g)) == pytest.approx(1.0)


def test_surface_and_both_and_user_functions():
    path = viz.descent_path(issue_f, start=(-1.5, 1.8), steps=20)
    fig = viz.plot_descent(issue_f, {"sgd": path}, show="surface")
    assert fig.axes[0].name == "3d"
    assert any("sgd: 20 steps" in t.get_text() for t in fig.axes[0].get_legend().get_texts())
    fig = viz.plot_descent(issue_f, [path], show="both")
    assert [a.name for a in fig.axes if a.get_label() != "<colorbar>"][:2] == ["rectilinear", "3d"]
    # a function only the Value engine can evaluate (numpy arrays have no .tanh())
    fig = viz.plot_descent(lambda x, y: (x * x + y * y).tanh(), {"p": path}, resolution=20)
    assert fig.axes[0].get_legend() is not None


def test_one_input_picture_is_the_curve_with_the_slope():
    path = viz.descent_path(lambda w: (w - 1) ** 2 + 0.5, start=(-1.0,), lr=0.1, steps=10)
    fig = viz.plot_descent(lambda w: (w - 1) ** 2 + 0.5, {"lr 0.1": path})
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "slope -4.0000: step right" in texts
    with pytest.raises(ValueError, match="drawn as a curve"):
        viz.plot_descent(lambda w: w * w, {"p": path}, show="surface")


def test_evaluate_matches_the_engine_pointwise():
    xs, ys = np.meshgrid(np.linspace(-1, 1, 4), np.linspace(-2, 2, 3))
    grid = evaluate(issue_f, xs, ys)
    one = [issue_f(Value(x), Value(y)).data for x, y in zip(xs.ravel(), ys.ravel())]
    np.testing.assert_allclose(grid.ravel(), one, rtol=1e-14)


def test_animation_has_one_frame_a_step(tmp_path):
    from PIL import Image

    paths = {name: viz.descent_path("bowl", optimizer=name, steps=8) for name in ("sgd", "adam")}
    out = viz.save_descent_animation("bowl", paths, tmp_path / "d.gif")
    with Image.open(out) as gif:
        assert gif.format == "GIF" and gif.n_frames == 9
    with pytest.raises(ValueError, match="must end in .gif"):
        viz.save_descent_animation("bowl", paths, tmp_path / "d.png")


# ------------------------------------------------------------------ errors

@pytest.mark.parametrize("call,error,message", [
    (lambda: viz.descent_path(lambda x, y: 3.0, start=(0, 0)), TypeError,
     r"f must return a Value built from its inputs .* got float 3.0"),
    (lambda: viz.descent_path(issue_f, start=(1.0, 2.0, 3.0)), ValueError,
     r"start has 3 numbers \(1.0, 2.0, 3.0\) but f takes 2 input"),
    (lambda: viz.descent_path(issue_f, start=(1.0, float("nan"))), ValueError,
     "start must hold finite numbers"),
    (lambda: viz.descent_path(issue_f), ValueError, "start is required for your own function"),
    (lambda: viz.descent_path("bowl", optimizer="rmsprop"), ValueError,
     "unknown optimizer 'rmsprop'; choose one of sgd, momentum, nesterov, adam"),
    (lambda: viz.descent_path("volcano"), ValueError,
     "unknown function 'volcano'; choose one of bowl, ravine, rosenbrock, two-valleys, saddle"),
    (lambda: viz.descent_path("bowl", lr=0), ValueError, "lr must be a positive number, got 0"),
    (lambda: viz.descent_path("bowl", lr=-0.1), ValueError, "lr must be a positive number"),
    (lambda: viz.descent_path("bowl", steps=0), ValueError, "steps must be an integer >= 1, got 0"),
    (lambda: viz.descent_path("bowl", steps=2.5), ValueError, "steps must be an integer >= 1"),
    (lambda: viz.descent_path("bowl", optimizer="adam", momentum=0.9), ValueError,
     "optimizer 'adam' does not take momentum; it takes betas, eps, weight_decay, amsgrad"),
    (lambda: viz.descent_path("bowl", optimizer="momentum", momentum=1.5), ValueError,
     "momentum must be a number >= 0 and below 1.0"),
    (lambda: viz.descent_path(42, start=(0, 0)), TypeError, "f must be a function of Values"),
    (lambda: viz.plot_descent("bowl", {"p": np.zeros((3, 3))}), ValueError,
     r"must have shape \(steps \+ 1, 2\)"),
    (lambda: viz.plot_descent("bowl", [viz.descent_path("bowl")], show="3d"), ValueError,
     "show must be one of contour, surface, both"),
])
def test_bad_input_is_one_clear_error(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ------------------------------------------------------------------ the command line

def test_descent_command_writes_a_gif_and_a_picture(tmp_path, capsys):
    from PIL import Image

    from microgradnn.cli import main

    gif = tmp_path / "d.gif"
    assert main(["descent", "--function", "two-valleys", "--optimizers", "sgd,momentum,adam",
                 "--lr", "0.05", "--steps", "6", "-o", str(gif)]) == 0
    out = capsys.readouterr().out
    sgd = viz.descent_path("two-valleys", optimizer="sgd", lr=0.05, steps=6)
    assert (f"sgd (lr 0.05): 6 steps from (1.2000, -1.6000) to ({sgd[-1, 0]:.4f}, "
            f"{sgd[-1, 1]:.4f})") in out
    assert "wrote" in out and "7 frames, one a step" in out
    with Image.open(gif) as image:
        assert image.n_frames == 7
    png = tmp_path / "d.png"
    assert main(["descent", "--expression", "x**2 + 3*y**2", "--start=-1.5,1", "--optimizers",
                 "sgd,adam", "--lr", "0.1,0.2", "--steps", "5", "-o", str(png)]) == 0
    assert "adam (lr 0.2): 5 steps" in capsys.readouterr().out
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_expression_function_gives_the_engines_gradient():
    from microgradnn.commands.descent import expression_function

    f = expression_function("tanh(x*y) + x**2")
    ours = viz.descent_path(f, start=(0.5, -1.0), lr=0.1, steps=5)
    plain = viz.descent_path(lambda x, y: (x * y).tanh() + x ** 2, start=(0.5, -1.0), lr=0.1,
                             steps=5)
    np.testing.assert_array_equal(ours, plain)


def test_descent_command_reports_a_diverging_path(tmp_path, capsys):
    from microgradnn.cli import main

    assert main(["descent", "--function", "rosenbrock", "--optimizers", "sgd", "--lr", "0.1",
                 "--steps", "30", "-o", str(tmp_path / "r.png")]) == 0
    out = capsys.readouterr().out
    assert "note: descent_path: stopped at step" in out


@pytest.mark.parametrize("argv,message", [
    (["--function", "volcano"], "unknown function 'volcano'; choose one of bowl, ravine"),
    (["--optimizers", "sgd,rmsprop"], "unknown optimizer 'rmsprop'; choose from sgd, momentum"),
    (["--lr", "0"], "lr must be a positive number, got 0"),
    (["--lr", "0.1,0.2"], "--lr gives 2 rates for 3 optimizers"),
    (["--steps", "0"], "steps must be an integer >= 1, got 0"),
    (["--start=1,2,3"], "--start needs two numbers X,Y, got 3"),
    (["--expression", "x**2 + z"], "may use the names x and y only, not z"),
    (["--expression", "__import__('os')"], "calling '__import__' is not allowed"),
    (["--expression", "x*y"], "--expression needs --start X,Y"),
])
def test_descent_command_errors_are_one_line(tmp_path, capsys, argv, message):
    from microgradnn.cli import main

    assert main(["descent", *argv, "-o", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and err.startswith("microgradnn descent: error:")
    assert not (tmp_path / "x.png").exists()


def test_descent_command_refuses_an_unknown_output_type(tmp_path, capsys):
    from microgradnn.cli import main

    assert main(["descent", "-o", str(tmp_path / "x.mp4")]) == 2
    assert "use .gif for an animation, or .png, .svg for a picture" in capsys.readouterr().err


def test_a_path_that_leaves_the_functions_domain_is_called_stopped():
    def f(x, y):
        return (x + 2).log() + y * y  # log needs x > -2: descent walks x down to the wall

    with pytest.warns(RuntimeWarning, match="cost cannot be computed"):
        path = viz.descent_path(f, start=(0.0, 0.5), lr=0.5, steps=10)
    status = path_status(f, path, [(-3, 1), (-1, 1)])
    assert status.stopped and status.left_at == int(np.argmax(~np.isfinite(path[:, 0])))
    fig = viz.plot_descent(f, {"sgd": path}, xlim=(-3, 1), ylim=(-1, 1), resolution=30)
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert f"sgd: stopped at step {status.left_at}, the cost could not be computed" in texts


def test_a_gif_of_too_many_frames_is_refused_before_drawing(tmp_path):
    path = viz.descent_path("bowl", steps=1500)
    with pytest.raises(ValueError, match="makes 1501 frames, more than 1000"):
        viz.save_descent_animation("bowl", {"sgd": path}, tmp_path / "d.gif")
    assert not (tmp_path / "d.gif").exists()


def test_computing_the_paths_needs_no_matplotlib():
    import subprocess
    import sys

    code = ("import sys\nfrom viz.plots.descent_paths import descent_path\n"
            "assert descent_path('bowl', steps=3).shape == (4, 2)\n"
            "assert 'matplotlib' not in sys.modules, 'descent_paths imported matplotlib'\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
