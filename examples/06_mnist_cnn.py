"""Example 6: a small CNN on MNIST, its filters and the feature maps of one digit.

    conv 3x3 (1->8) -> ReLU -> max-pool 2 -> conv 3x3 (8->16) -> ReLU -> max-pool 2 -> linear (784->10)

A conv layer slides each small filter over the whole image (example 7 does it by
hand), so it needs few weights and finds a stroke wherever it is. The pictures show
the learned filters and what each one fires on in one test digit.

    python examples/06_mnist_cnn.py [--quick] [--out DIR] [--download]
"""

from __future__ import annotations

import time

import numpy as np
from _helpers import (example_args, input_tensor, mnist_or_exit, predict_logits, say_saved,
                      train_epoch)

from microgradnn import format_number
from microgradnn.optim import Adam
from microgradnn.tensor import (Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential, Tensor,
                                cross_entropy, no_grad)
from viz import (confusion_matrix, plot_confusion_matrix, plot_conv_filters, plot_feature_maps,
                 plot_history, plot_misclassified, save_figure)

SHAPE = (1, 28, 28)


def small_cnn(seed: int) -> Sequential:
    rng = np.random.default_rng(seed)
    return Sequential(Conv2d(1, 8, 3, padding=1, rng=rng), ReLU(), MaxPool2d(2),
                      Conv2d(8, 16, 3, padding=1, rng=rng), ReLU(), MaxPool2d(2),
                      Flatten(), Linear(16 * 7 * 7, 10, rng=rng))


def feature_maps(model: Sequential, image: np.ndarray):
    """The outputs after each conv + ReLU for one uint8 digit: (8, 28, 28) and (16, 14, 14)."""
    x = input_tensor(image[None], SHAPE)
    maps = []
    with no_grad():
        for module in model:
            x = module(x)
            if isinstance(module, ReLU):
                maps.append(x.data[0].copy())
    return maps


def main() -> None:
    args = example_args("06_mnist_cnn", __doc__.splitlines()[0], mnist=True)
    (train_x, train_y), (test_x, test_y) = mnist_or_exit(args.download)
    if args.quick:
        train_x, train_y, test_x, test_y = train_x[:2000], train_y[:2000], test_x[:500], test_y[:500]
    epochs = 1 if args.quick else 3  # one pass over all 60,000 digits already gives about 97%
    model = small_cnn(seed=0)
    parameters = sum(p.data.size for p in model.parameters())
    print(f"CNN with {parameters} parameters; {len(train_x)} training and {len(test_x)} test "
          f"images, {epochs} epoch(s)")
    optimizer = Adam(model.parameters(), lr=2e-3)
    rng = np.random.default_rng(0)
    history = []
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        loss, accuracy = train_epoch(model, optimizer, train_x, train_y, SHAPE, 64, rng,
                                     desc=f"epoch {epoch}")
        logits = predict_logits(model, test_x, SHAPE)
        test_loss = cross_entropy(Tensor(logits), test_y.astype(np.int64)).item()
        test_accuracy = float(np.mean(logits.argmax(axis=1) == test_y))
        history.append({"epoch": epoch, "train_loss": loss, "train_accuracy": accuracy,
                        "test_loss": test_loss, "test_accuracy": test_accuracy})
        print(f"epoch {epoch}: train loss {format_number(loss)}, test accuracy "
              f"{format_number(test_accuracy)} ({time.perf_counter() - start:.1f} s)")

    digit = int(np.flatnonzero(test_y == 7)[0])  # the first 7 of the test set
    first_maps, second_maps = feature_maps(model, test_x[digit])
    print(f"feature maps of test digit #{digit} (a {test_y[digit]}): conv 1 gives "
          f"{first_maps.shape} with {np.mean(first_maps > 0):.0%} of the values above 0; conv 2 "
          f"gives {second_maps.shape} with {np.mean(second_maps > 0):.0%} above 0")

    print("\nPictures:")
    out = args.out
    say_saved(save_figure(plot_history(history), out / "curves.png"), "loss and accuracy")
    say_saved(save_figure(plot_conv_filters(model[0].weight.data, title="Conv 1 filters"),
                          out / "conv1_filters.png"), "the 8 learned 3x3 filters")
    say_saved(save_figure(plot_conv_filters(model[3].weight.data, title="Conv 2 filters"),
                          out / "conv2_filters.png"), "16 filters x 8 input channels")
    say_saved(save_figure(plot_feature_maps(first_maps, image=test_x[digit],
                                            title="After conv 1 + ReLU"),
                          out / "conv1_feature_maps.png"), "where each conv 1 filter fires")
    say_saved(save_figure(plot_feature_maps(second_maps, title="After conv 2 + ReLU"),
                          out / "conv2_feature_maps.png"), "where each conv 2 filter fires")
    predicted = logits.argmax(axis=1)
    say_saved(save_figure(plot_confusion_matrix(confusion_matrix(test_y, predicted, 10),
                                                title="CNN on the test digits"),
                          out / "confusion.png"), "confusion matrix")
    say_saved(save_figure(plot_misclassified(test_x, test_y, predicted), out / "misclassified.png"),
              "the digits it got wrong")


if __name__ == "__main__":
    main()
