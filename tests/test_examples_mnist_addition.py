"""examples/mnist_addition: the restart selection (the whole run is covered by test_examples_report)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from types import ModuleType

import pytest
import torch

from example_scripts import load_example

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "mnist_addition" / "train.py"


def load_script() -> ModuleType:
    return load_example("mnist_addition/train.py")


@pytest.mark.filterwarnings("ignore::solverlayers.layers.SolverLayerWarning")  # UNSAT forwards of untrained encoders
def test_restarts_keep_the_initialisation_that_adds_best_on_training_pairs() -> None:
    ma = load_script()
    cfg = tomllib.loads((SCRIPT.parent / "config.toml").read_text())
    cfg["train"].update(restarts=3, pretrain_epochs=1, batch_size=64)
    cfg["smt"].update(backends=["pysat"], executor="serial")
    train, _ = ma.load_images(cfg["data"], 0)
    pairs = ma.allowed_pairs(10, 0)

    def batches(epoch: int):
        x1, x2, a, b = ma.make_pairs(train, pairs, 256, torch.Generator().manual_seed(epoch))
        target = ma.sum_bits(a, b)
        return [(x1[i], x2[i], target[i]) for i in torch.arange(len(a)).split(64)]

    model, record = ma.pretrain(10, pairs, batches, train, "pysat", cfg)
    assert len(record) == 3 and sum(r["kept"] for r in record) == 1
    scores = [r["validation_accuracy"] for r in record]
    assert record[scores.index(max(scores))]["kept"]  # the first of the best
    assert len({round(s, 6) for s in scores}) > 1  # the initialisations differ
    cfg["train"]["restarts"] = 1
    assert ma.pretrain(10, pairs, batches, train, "pysat", cfg)[1] == []  # one run: nothing to choose


@pytest.mark.parametrize("key", ["optimizer", "smt_optimizer"])
def test_an_unknown_optimizer_is_named_with_the_choices(key: str, tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match=f"train.{key} = 'sgd': choose one of adam, sgd-one-cycle"):
        load_script().main(["--set", f"{key}=sgd", "--out", str(tmp_path)])
    assert not any(tmp_path.iterdir())  # nothing ran
