"""Example 8: gibberish in, a digit out, and with a nudge a confident one.

A classifier trained on digits must answer with one of ten digits whatever it is
shown: its softmax has no "this is not a digit". We feed it random noise and measure
how sure it is (less sure than on digits, but it always names one). Then we use
backprop the other way round: keep the weights fixed and
follow the gradient of "probability of class k" with respect to the *pixels*,
starting from noise. A few steps give images that look like nothing to us and that
the network calls a k with near certainty.

    python examples/08_gibberish.py [--quick] [--out DIR] [--download]
"""

from __future__ import annotations

import numpy as np
from _helpers import (example_args, mnist_or_exit, predict_logits, say_saved,
                      train_epoch)

from microgradnn import format_number
from microgradnn.optim import SGD
from microgradnn.tensor import Linear, Sequential, Sigmoid, Tensor, log_softmax
from viz import plot_images, save_figure
from viz.plots.common import new_figure

SHAPE = (784,)


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def fooling_image(model, target: int, start: np.ndarray, steps: int, lr: float = 0.02) -> np.ndarray:
    """Gradient ascent on log p(target) with respect to the pixels, kept in [0, 1].

    Each pixel moves by ``lr`` in the direction of its gradient's sign; the most
    convincing image seen is returned.
    """
    pixels = start.astype(np.float32).reshape(1, 784)
    best, best_log_p = pixels, -np.inf
    for _ in range(steps):
        x = Tensor(pixels, requires_grad=True)
        log_p = log_softmax(model(x), axis=1)[0, target]
        log_p.backward()
        if log_p.item() > best_log_p:
            best, best_log_p = pixels, log_p.item()
        pixels = np.clip(pixels + lr * np.sign(x.grad), 0.0, 1.0).astype(np.float32)
    return best.reshape(28, 28)


def main() -> None:
    args = example_args("08_gibberish", __doc__.splitlines()[0], mnist=True)
    (train_x, train_y), (test_x, test_y) = mnist_or_exit(args.download)
    if args.quick:
        train_x, train_y, test_x, test_y = train_x[:10000], train_y[:10000], test_x[:1000], test_y[:1000]
    rng = np.random.default_rng(0)
    # The classic 784-16-16-10 sigmoid network of example 5.
    model = Sequential(Linear(784, 16, rng=rng), Sigmoid(), Linear(16, 16, rng=rng), Sigmoid(),
                       Linear(16, 10, rng=rng))
    optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
    for epoch in range(3):
        train_epoch(model, optimizer, train_x, train_y, SHAPE, 32, rng, desc=f"epoch {epoch + 1}")
    real = softmax(predict_logits(model, test_x, SHAPE))
    accuracy = float(np.mean(real.argmax(axis=1) == test_y))
    print(f"MLP 784-16-16-10 (sigmoid) trained: test accuracy {format_number(accuracy)}, mean "
          f"confidence on real digits {format_number(real.max(axis=1).mean())}")

    noise = rng.integers(0, 256, size=(1000, 28, 28), dtype=np.uint8)
    fake = softmax(predict_logits(model, noise, SHAPE))
    confidence, answer = fake.max(axis=1), fake.argmax(axis=1)
    print(f"\n1000 images of uniform random noise: mean confidence {format_number(confidence.mean())}, "
          f"{np.mean(confidence > 0.9):.0%} answered with more than 90% confidence")
    counts = np.bincount(answer, minlength=10)
    print("  digits it sees in noise: " + ", ".join(f"{d}: {c}" for d, c in enumerate(counts) if c))
    print("  (softmax always spreads 100% over the ten digits: \"none of these\" is not an answer)")

    steps = 20 if args.quick else 40
    start = (0.3 * rng.random((784,))).astype(np.float32)  # faint noise: a dark, grainy image
    fooled = np.stack([fooling_image(model, k, start, steps) for k in range(10)])
    fooled_p = softmax(predict_logits(model, (fooled * 255).round().astype(np.uint8), SHAPE))
    print(f"\nThe same noise nudged by backprop on the pixels ({steps} steps per digit):")
    for k in range(10):
        print(f"  target {k}: the network says {fooled_p[k].argmax()} with "
              f"p = {format_number(fooled_p[k].max())}; mean pixel change "
              f"{format_number(np.abs(fooled[k].ravel() - start).mean())}")

    print("\nPictures:")
    out = args.out
    shown = noise[:16]
    say_saved(save_figure(plot_images(shown, [f"{a}: {100 * c:.0f}%" for a, c in
                                              zip(answer[:16], confidence[:16])],
                                      title="Random noise and what the network calls it"),
                          out / "noise_predictions.png"), "noise with its predicted digit")
    say_saved(save_figure(plot_images(fooled, [f"{p.argmax()}: {100 * p.max():.0f}%" for p in fooled_p],
                                      title="Noise optimized to be each digit"),
                          out / "fooling_images.png"), "images made to fool the network")
    fig = new_figure(5.5, 3.6)
    ax = fig.add_subplot()
    bins = np.linspace(0.0, 1.0, 21)
    ax.hist(real.max(axis=1), bins=bins, alpha=0.6, label="real test digits", density=True)
    ax.hist(confidence, bins=bins, alpha=0.6, label="random noise", density=True)
    ax.set_xlabel("probability of the predicted digit")
    ax.set_ylabel("density")
    ax.set_title("How sure the network is")
    ax.legend()
    say_saved(save_figure(fig, out / "confidence.png"), "confidence on digits vs noise")


if __name__ == "__main__":
    main()
