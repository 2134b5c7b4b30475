"""Regenerate the README's three pictures of the explain page (``make explain-screenshots``).

1. Trains, unless checkpoints are given, the classic 784-16-16-10 sigmoid MLP with the
   lectures' cost (``--loss mse``, the README's recipe, about 20 epochs), the README's
   CNN for one epoch and the ResNet family for one epoch on 5,000 images (its recipe),
   with the ``microgradnn`` command itself.
2. Writes their explain pages for an MNIST test image with ``microgradnn explain``.
3. Opens each page in headless chromium, clicks what the picture shows, and saves
   ``docs/explain_mlp_backward.png`` (the backward view, a neuron open, the δ step) and
   ``docs/explain_cnn_conv.png`` (a convolution map open: the kernel over the padded input)
   and ``docs/explain_resnet_block.png`` (a residual block backward, for the first
   misclassified test image: F and the shortcut meeting at +, the gradient at + going
   down both paths and adding where they meet).

Needs MNIST (``$MICROGRADNN_DATA`` or the cache), chromium (``/usr/bin/chromium`` or
``$MICROGRADNN_CHROMIUM``) and the ``playwright`` package.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "docs"))
from make_pictures import browser_page  # noqa: E402

MLP_RECIPE = ["--model", "mlp", "--hidden", "16,16", "--activation", "sigmoid", "--loss", "mse",
              "--optimizer", "adam", "--lr", "0.003", "--lr-decay", "0.95", "--augment", "1",
              "--epochs", "20", "--batch-size", "32", "--seed", "0"]
CNN_RECIPE = ["--model", "cnn", "--channels", "16,32", "--hidden", "128", "--optimizer", "adam",
              "--lr", "0.002", "--epochs", "1", "--batch-size", "64", "--seed", "0"]
RESNET_RECIPE = ["--model", "resnet", "--optimizer", "adam", "--lr", "0.002", "--epochs", "1",
                 "--batch-size", "64", "--limit", "5000", "--seed", "0"]


def run(*args: str) -> None:
    print("$ microgradnn " + " ".join(args), flush=True)
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    subprocess.run([sys.executable, "-m", "microgradnn", *args], check=True, cwd=ROOT, env=env)


def checkpoint(given: str, path: Path, recipe: list) -> Path:
    if given:
        return Path(given)
    if not path.exists():
        run("train", "mnist", *recipe, "--quiet", "--save", str(path))
    return path


def shoot(page_path: Path, png: Path, actions, height: int, region=None) -> None:
    """Open the page, run ``actions``, save the top ``height`` pixels (or the clip that
    ``region(page)`` returns)."""
    with browser_page(1400, height) as page:
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        page.goto(page_path.resolve().as_uri())
        page.wait_for_selector("body[data-ready='1']")
        actions(page)
        page.mouse.move(0, 0)
        clip = region(page) if region else {"x": 0, "y": 0, "width": 1400, "height": height}
        page.screenshot(path=str(png), clip=clip, full_page=region is not None)
    if errors:
        raise SystemExit(f"{page_path}: the page reported errors: {errors}")
    print(f"wrote {png}")


def mlp_actions(page) -> None:
    page.click("#mx-mode-backward")
    page.click("#mx-n-2-4")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")


def cnn_actions(page) -> None:
    page.click("#mx-map-1-5")


def resnet_actions(page) -> None:
    block = page.eval_on_selector_all(".mx-block", "b => b.map(e => e.id)")[1]  # the projection
    index = block.split("-")[-1]
    page.click("#mx-mode-backward")
    page.click(f"#mx-plus-{index}")
    page.eval_on_selector(f"#{block}", "e => e.scrollIntoView({inline: 'start', block: 'start'})")


def resnet_region(page) -> dict:
    """From the residual block's top to the bottom of the detail panel, the page's width."""
    top = page.evaluate("() => Math.min(...[...document.querySelectorAll('.mx-block')]"
                        ".map(e => e.getBoundingClientRect().top + window.scrollY))")
    index = page.eval_on_selector_all(".mx-block", "b => b.map(e => e.id)")[1].split("-")[-1]
    bottom = page.eval_on_selector(f"#mx-paths-{index}",
                                   "e => e.getBoundingClientRect().bottom + window.scrollY")
    return {"x": 0, "y": max(0, top - 8), "width": 1400, "height": bottom - top + 16}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mlp", help="an MLP checkpoint trained with --loss mse (default: train one)")
    parser.add_argument("--cnn", help="a CNN checkpoint (default: train one for an epoch)")
    parser.add_argument("--resnet", help="a ResNet checkpoint (default: train one briefly)")
    parser.add_argument("--index", type=int, default=0, help="MNIST test image (default: 0)")
    parser.add_argument("--work", default=str(ROOT / "microgradnn_out" / "explain"),
                        help="folder for checkpoints and pages (default: %(default)s)")
    parser.add_argument("--out", default=str(ROOT / "docs"), help="folder for the PNGs")
    args = parser.parse_args()
    work, out = Path(args.work), Path(args.out)
    work.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    mlp = checkpoint(args.mlp, work / "mlp_mse.npz", MLP_RECIPE)
    cnn = checkpoint(args.cnn, work / "cnn.npz", CNN_RECIPE)
    resnet = checkpoint(args.resnet, work / "resnet.npz", RESNET_RECIPE)
    run("eval", str(mlp))
    for name, ckpt in (("mlp", mlp), ("cnn", cnn)):
        run("explain", str(ckpt), "--index", str(args.index), "--batch", "32",
            "-o", str(work / f"{name}.html"))
    shoot(work / "mlp.html", out / "explain_mlp_backward.png", mlp_actions, 1060)
    shoot(work / "cnn.html", out / "explain_cnn_conv.png", cnn_actions, 905)
    run("explain", str(resnet), "--pick", "wrong", "--batch", "32", "-o", str(work / "resnet.html"))
    shoot(work / "resnet.html", out / "explain_resnet_block.png", resnet_actions, 0, resnet_region)
    return 0


if __name__ == "__main__":
    sys.exit(main())
