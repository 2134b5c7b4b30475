"""Example 5: the classic 784-16-16-10 MLP on MNIST, with sigmoid and with ReLU.

The same network (13,002 weights and biases) is trained twice, once with sigmoid and
once with ReLU hidden units, with the same seed, data and learning rate. The pictures:
what each first-layer neuron "looks for" (its 784 weights as a 28x28 image), the loss
and accuracy curves, how large the gradients reaching each layer are (sigmoid's shrink
on the way back: vanishing gradients), the hidden activations, and the mistakes.

The learning rate is 0.5. At 0.1 (the README's classic recipe, 10 epochs) the sigmoid
net needs about a whole epoch of 60,000 digits before it leaves chance: its gradients
are small, which the gradient-flow picture shows. ``--quick`` trains on 12,000 digits
for one epoch (375 steps, about a second per network), enough for both to learn.

    python examples/05_mnist_mlp.py [--quick] [--out DIR] [--download]
"""

from __future__ import annotations

import itertools
import time

import numpy as np
from _helpers import (example_args, input_tensor, mnist_or_exit, predict_logits, say_saved,
                      train_epoch)

from microgradnn import format_number
from microgradnn.optim import SGD
from microgradnn.tensor import Linear, ReLU, Sequential, Sigmoid, Tensor, cross_entropy
from viz import (confusion_matrix, mean_abs_grad_per_layer, plot_activation_histograms,
                 plot_confusion_matrix, plot_gradient_flow, plot_history, plot_misclassified,
                 plot_weight_images, save_figure)

SHAPE = (784,)
EVERY = 5  # record the gradient sizes every 5 steps
LR = 0.5
BATCH = 32
PROBE = 1000  # the curves are measured on this many training and test digits
LAYER_NAMES = {"0": "layer 1 (784->16)", "2": "layer 2 (16->16)", "4": "layer 3 (16->10)"}


def classic_mlp(activation, seed: int) -> Sequential:
    rng = np.random.default_rng(seed)
    return Sequential(Linear(784, 16, rng=rng), activation(), Linear(16, 16, rng=rng), activation(),
                      Linear(16, 10, rng=rng))


def hidden_activations(model: Sequential, images: np.ndarray):
    """The outputs of the two hidden activation layers for a batch of digits."""
    x = input_tensor(images, SHAPE)
    out = {}
    for i, module in enumerate(model):
        x = module(x)
        if i in (1, 3):
            out[f"hidden layer {i // 2 + 1} ({type(module).__name__})"] = x.data.copy()
    return out


def main() -> None:
    args = example_args("05_mnist_mlp", __doc__.splitlines()[0], mnist=True)
    (train_x, train_y), (test_x, test_y) = mnist_or_exit(args.download)
    if args.quick:
        train_x, train_y, test_x, test_y = train_x[:12000], train_y[:12000], test_x[:1000], test_y[:1000]
    epochs = 1 if args.quick else 5
    steps_per_epoch = -(-len(train_x) // BATCH)
    curve_every = max(1, epochs * steps_per_epoch // 40)
    print(f"MNIST: {len(train_x)} training and {len(test_x)} test images; {epochs} epoch(s) of "
          f"{steps_per_epoch} steps per network, SGD with learning rate {LR}, batch {BATCH}")
    print(f"Curves: loss and accuracy on {PROBE} training and {PROBE} test digits, "
          f"every {curve_every} steps")

    results = {}
    for name, activation in (("sigmoid", Sigmoid), ("relu", ReLU)):
        model = classic_mlp(activation, seed=0)
        optimizer = SGD(model.parameters(), lr=LR)
        flow = []  # mean |grad| per layer, every few steps
        history = []  # loss and accuracy every curve_every steps, from step 0 (untrained)
        counter = itertools.count()

        def measure(step: int) -> None:
            point = {"step": step}
            for split, (images, labels) in (("train", (train_x[:PROBE], train_y[:PROBE])),
                                            ("test", (test_x[:PROBE], test_y[:PROBE]))):
                logits = predict_logits(model, images, SHAPE)
                point[f"{split}_loss"] = cross_entropy(Tensor(logits), labels.astype(np.int64)).item()
                point[f"{split}_accuracy"] = float(np.mean(logits.argmax(axis=1) == labels))
            history.append(point)

        def record(_step_in_epoch: int) -> None:
            step = next(counter)  # called after backward(), before the step: weights of `step`
            if step % EVERY == 0:
                flow.append(mean_abs_grad_per_layer(model))  # {"0": ..., "2": ..., "4": ...}
            if step % curve_every == 0:
                measure(step)

        start = time.perf_counter()
        rng = np.random.default_rng(0)
        for epoch in range(1, epochs + 1):
            loss, accuracy = train_epoch(model, optimizer, train_x, train_y, SHAPE, BATCH, rng,
                                         desc=f"{name} epoch {epoch}", on_step=record)
            logits = predict_logits(model, test_x, SHAPE)
            test_accuracy = float(np.mean(logits.argmax(axis=1) == test_y))
            print(f"{name:>7} epoch {epoch}: train loss {format_number(loss)}, "
                  f"test accuracy {format_number(test_accuracy)}")
        measure(epochs * steps_per_epoch)
        parameters = sum(p.data.size for p in model.parameters())
        print(f"{name:>7}: {parameters} parameters, {time.perf_counter() - start:.1f} s; test accuracy "
              f"{format_number(history[0]['test_accuracy'])} untrained -> "
              f"{format_number(history[-1]['test_accuracy'])} ({len(history)} points per curve)")
        flow_by_layer = {LAYER_NAMES[k]: [step[k] for step in flow] for k in flow[0]}
        results[name] = (model, history, flow_by_layer, logits)

    print("\nMean |grad| of each layer's weights over training (input layer first):")
    for name, (_, _, flow_by_layer, _) in results.items():
        means = "  ".join(f"{np.mean(v):.2e}" for v in flow_by_layer.values())
        print(f"{name:>7}: {means}")
    print("Gradient size reaching the first layer, as a share of the last layer's:")
    for name, (_, _, flow_by_layer, _) in results.items():
        first, last = (np.array(flow_by_layer[LAYER_NAMES[k]]) for k in ("0", "4"))
        early = max(1, first.size // 10)  # the first tenth of training
        print(f"{name:>7}: {first[:early].mean() / last[:early].mean():.3f} at the start, "
              f"{first.mean() / last.mean():.3f} over the whole run")

    print("\nPictures:")
    out = args.out
    for name, (model, history, _, logits) in results.items():
        say_saved(save_figure(plot_history(history, x_key="step"), out / f"{name}_curves.png"),
                  "loss and accuracy over the steps")
        weights = plot_weight_images(model[0].weight.data, title=f"First-layer weights ({name})")
        say_saved(save_figure(weights, out / f"{name}_weights.png"), "what each hidden neuron looks for")
        hidden = plot_activation_histograms(hidden_activations(model, test_x[:500]),
                                            title=f"Hidden activations on 500 test digits ({name})")
        say_saved(save_figure(hidden, out / f"{name}_activations.png"), "activation histograms")
    flows = {name: flow for name, (_, _, flow, _) in results.items()}
    say_saved(save_figure(plot_gradient_flow(flows, title="Gradient flow: sigmoid vs ReLU", every=EVERY),
                          out / "gradient_flow.png"), "mean |grad| per layer over the steps")
    _, _, _, logits = results["relu"]
    predicted = logits.argmax(axis=1)
    say_saved(save_figure(plot_confusion_matrix(confusion_matrix(test_y, predicted, 10),
                                                title="ReLU MLP on the test digits"),
                          out / "relu_confusion.png"), "confusion matrix")
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    say_saved(save_figure(plot_misclassified(test_x, test_y, predicted,
                                             confidences=probabilities.max(axis=1)),
                          out / "relu_misclassified.png"), "the digits it got wrong")


if __name__ == "__main__":
    main()
