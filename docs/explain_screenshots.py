"""Regenerate the README's two pictures of the explain page (``make explain-screenshots``).

1. Trains, unless checkpoints are given, the classic 784-16-16-10 sigmoid MLP with the
   lectures' cost (``--loss mse``, the README's recipe, about 20 epochs) and the README's
   CNN for one epoch, with the ``microgradnn`` command itself.
2. Writes their explain pages for an MNIST test image with ``microgradnn explain``.
3. Opens each page in headless chromium, clicks what the picture shows, and saves
   ``docs/explain_mlp_backward.png`` (the backward view, a neuron open, the δ step) and
   ``docs/explain_cnn_conv.png`` (a convolution map open: the kernel over the padded input).

Needs MNIST (``$MICROGRADNN_DATA`` or the cache), chromium (``/usr/bin/chromium`` or
``$MICROGRADNN_CHROMIUM``) and the ``playwright`` package.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MLP_RECIPE = ["--model", "mlp", "--hidden", "16,16", "--activation", "sigmoid", "--loss", "mse",
              "--optimizer", "adam", "--lr", "0.003", "--lr-decay", "0.95", "--augment", "1",
              "--epochs", "20", "--batch-size", "32", "--seed", "0"]
CNN_RECIPE = ["--model", "cnn", "--channels", "16,32", "--hidden", "128", "--optimizer", "adam",
              "--lr", "0.002", "--epochs", "1", "--batch-size", "64", "--seed", "0"]


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


def shoot(page_path: Path, png: Path, actions, height: int) -> None:
    from playwright.sync_api import sync_playwright

    chromium = (os.environ.get("MICROGRADNN_CHROMIUM") or shutil.which("chromium")
                or "/usr/bin/chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True,
                                    args=["--no-sandbox", "--disable-gpu",
                                          "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1400, "height": height})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        page.goto(page_path.resolve().as_uri())
        page.wait_for_selector("body[data-ready='1']")
        actions(page)
        page.mouse.move(0, 0)
        page.screenshot(path=str(png), clip={"x": 0, "y": 0, "width": 1400, "height": height})
        browser.close()
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mlp", help="an MLP checkpoint trained with --loss mse (default: train one)")
    parser.add_argument("--cnn", help="a CNN checkpoint (default: train one for an epoch)")
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
    run("eval", str(mlp))
    for name, ckpt in (("mlp", mlp), ("cnn", cnn)):
        run("explain", str(ckpt), "--index", str(args.index), "--batch", "32",
            "-o", str(work / f"{name}.html"))
    shoot(work / "mlp.html", out / "explain_mlp_backward.png", mlp_actions, 1060)
    shoot(work / "cnn.html", out / "explain_cnn_conv.png", cnn_actions, 905)
    return 0


if __name__ == "__main__":
    sys.exit(main())
