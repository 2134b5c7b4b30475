"""The course pages' pictures (``make course-pictures``): each example of the course run in
its ``--quick`` form, and the pictures the pages show copied to ``docs/course/pictures/``
as ``<example>_<file>``.

    python docs/course_pictures.py [--examples-out DIR]

The examples that need MNIST read it from ``MICROGRADNN_DATA``; without it they say so and
their pictures are named as not made (exit status 1).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "course" / "pictures"
# example script -> the pictures of its output folder that the course pages show
PICTURES = {
    "01_value": ["graph.svg"],
    "02_neuron_stepper": ["neuron.svg", "neuron_tanh_from_exp.svg"],
    "03_gradcheck": ["step_size.png"],
    "04_toy_mlp": ["moons_boundary.png", "moons_curves.png"],
    "05_mnist_mlp": ["sigmoid_weights.png", "gradient_flow.png"],
    "06_mnist_cnn": ["conv1_filters.png", "conv1_feature_maps.png"],
    "07_conv_by_hand": ["conv_grids.png"],
    "08_gibberish": ["fooling_images.png"],
    "09_gradient_descent": ["learning_rates.png", "optimizers.png", "landscape_path.png"],
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Make the course pages' pictures.")
    parser.add_argument("--examples-out", type=Path, default=ROOT / "examples_out",
                        help="where the examples write (default: examples_out/)")
    args = parser.parse_args(argv)
    env = dict(os.environ, MPLBACKEND="Agg", OPENBLAS_NUM_THREADS="1",
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    OUT.mkdir(parents=True, exist_ok=True)
    missing = []
    for example, names in PICTURES.items():
        folder = args.examples_out / example
        command = [sys.executable, str(ROOT / "examples" / f"{example}.py"), "--quick",
                   "--out", str(folder)]
        print(f"$ python examples/{example}.py --quick --out {folder}", flush=True)
        subprocess.run(command, check=True, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
        for name in names:
            if (folder / name).is_file():
                shutil.copyfile(folder / name, OUT / f"{example}_{name}")
                print(f"wrote {OUT / f'{example}_{name}'}")
            else:
                missing.append(f"{example}/{name}")
    if missing:
        print(f"not made: {', '.join(missing)} (MNIST missing? set MICROGRADNN_DATA)")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
