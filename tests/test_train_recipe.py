"""``microgradnn train mnist --model FAMILY`` trains with the family's recipe by default.

``families.RECIPES`` holds each CNN family's optimizer, learning rate, decay, batch and
augmentation; a command that gives none of those flags takes all of them, the header line
names the recipe, and every flag the command does give wins.
"""

import numpy as np
import pytest

from microgradnn.cli import main
from microgradnn.commands import mnist as cli
from microgradnn.families import RECIPES


@pytest.fixture
def captured(monkeypatch):
    """Run ``train`` on 8 blank images with ``fit`` replaced by a recorder of its arguments."""
    seen = {}

    def fake_fit(model, optimizer, train_data, epochs, batch_size, seed, **kwargs):
        seen.update(optimizer=type(optimizer).__name__.lower(), lr=optimizer.lr,
                    batch_size=batch_size, lr_decay=kwargs["lr_decay"],
                    augment=kwargs["augment"], epochs=epochs)
        return [{}]

    images, labels = np.zeros((8, 28, 28), np.uint8), np.arange(8) % 10
    monkeypatch.setattr(cli, "_load_split", lambda split, args, limit: (images, labels))
    monkeypatch.setattr("microgradnn.training.fit", fake_fit)
    monkeypatch.setattr("microgradnn.training.evaluate", lambda *a, **k: (0.5, None))
    return seen


@pytest.mark.parametrize("family", sorted(RECIPES))
def test_a_family_without_flags_trains_with_its_recipe(family, captured, capsys):
    assert main(["train", "mnist", "--model", family, "--epochs", "1", "--quiet"]) == 0
    recipe = RECIPES[family]
    assert captured == {"optimizer": recipe["optimizer"], "lr": recipe["lr"],
                        "batch_size": recipe["batch_size"], "lr_decay": recipe["lr_decay"],
                        "augment": recipe["augment"], "epochs": 1}
    header = capsys.readouterr().out.splitlines()[0]
    assert header.endswith(f"recipe families.RECIPES['{family}']")


def test_flags_given_win_over_the_recipe(captured, capsys):
    recipe = RECIPES["resnet"]
    assert main(["train", "mnist", "--model", "resnet", "--batch-size", "16", "--quiet"]) == 0
    assert captured["batch_size"] == 16 and captured["lr"] == recipe["lr"]
    assert "(--batch-size given)" in capsys.readouterr().out
    # another optimizer than the recipe's: its own default learning rate, not the recipe's
    assert main(["train", "mnist", "--model", "resnet", "--optimizer", "sgd", "--quiet"]) == 0
    assert (captured["optimizer"], captured["lr"]) == ("sgd", 0.1)
    assert captured["augment"] == recipe["augment"]


def test_models_without_a_recipe_keep_the_plain_defaults(captured, capsys):
    assert main(["train", "mnist", "--model", "mlp", "--quiet"]) == 0
    assert captured == {"optimizer": "sgd", "lr": 0.1, "batch_size": 32, "lr_decay": 1.0,
                        "augment": 0, "epochs": 10}
    assert capsys.readouterr().out.splitlines()[0].endswith("no recipe, plain defaults")
