"""MNIST addition with SMTLayer (Fredrikson et al., ICML 2023, section 5.1).

Two digit images go through one small CNN that outputs 4 logits per digit (its 4-bit code); the
SMTLayer's formula says the 5-bit output is the sum of the two codes, each at most 9. Training
sees only the sums, and only of p% of the 100 digit pairs (10% = just (i, i)); the test uses all
pairs. Pre-training puts a dense 512-unit head where the layer will be; the conventional
baseline is that architecture trained throughout.

    python examples/mnist_addition/train.py [--config config.toml] [--set key=value ...] [--out DIR]

Data: scikit-learn's 8x8 digits (bundled), or MNIST when ``data.mnist_dir`` names a folder with
its IDX files. Writes ``results.json``, ``results.md`` and ``results.png`` to ``--out``.
Targets: with every backend on the 10% split the sum accuracy is within 3 points of a^2 (a: the
same encoder's supervised single-digit accuracy), the baseline at most 25%, an SMTLayer epoch at
most 1.3x a conventional one, and the trained model's forward outputs identical across backends.
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

import solverlayers as sl
from solverlayers.datasets import load_digit_images
from solverlayers.layers import SMTLayer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import digit_accuracy, keep_best, restart_cells, save_results, solver_experiment_args  # noqa: E402

if TYPE_CHECKING:
    from matplotlib.figure import Figure

HERE = Path(__file__).parent
Data = tuple[torch.Tensor, torch.Tensor]  # images (n, 1, h, w), labels (n,)


# -- data -----------------------------------------------------------------------------------------

def load_images(cfg: dict[str, Any], seed: int) -> tuple[Data, Data]:
    """(train, test) images in [0, 1] with their digit labels."""
    return load_digit_images(cfg["mnist_dir"] or None, test_fraction=cfg["test_fraction"], seed=seed)


def allowed_pairs(percent: int, seed: int) -> list[tuple[int, int]]:
    """``percent`` of the 100 ordered digit pairs: all (i, i), then random others."""
    others = [(i, j) for i in range(10) for j in range(10) if i != j]
    random.Random(seed).shuffle(others)
    return [(i, i) for i in range(10)] + others[: max(0, percent - 10)]


def make_pairs(data: Data, pairs: list[tuple[int, int]], n: int, gen: torch.Generator) -> tuple[torch.Tensor, ...]:
    """``n`` image pairs: a digit pair uniformly from ``pairs``, then an image of each digit."""
    images, labels = data
    chosen = torch.tensor(pairs)[torch.randint(len(pairs), (n,), generator=gen)]
    picked = torch.empty_like(chosen)
    for d in range(10):
        pool = (labels == d).nonzero().squeeze(1)
        where = chosen == d
        picked[where] = pool[torch.randint(len(pool), (int(where.sum()),), generator=gen)]
    return images[picked[:, 0]], images[picked[:, 1]], chosen[:, 0], chosen[:, 1]


def sum_bits(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (((a + b)[:, None] >> torch.arange(5)) & 1).float()


# -- models ---------------------------------------------------------------------------------------

class Encoder(nn.Module):
    """A small CNN: an image to ``out`` logits (4: a digit's bit code; 10: its class)."""

    def __init__(self, out: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
            nn.AdaptiveMaxPool2d(4), nn.Flatten(), nn.Linear(64 * 16, 128), nn.ReLU(), nn.Linear(128, out),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Adder(nn.Module):
    """Both images through one encoder (4 logits each), then ``head`` on the 8 logits."""

    def __init__(self, head: nn.Module) -> None:
        super().__init__()
        self.encoder = Encoder(4)
        self.head = head

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([self.encoder(x1), self.encoder(x2)], dim=1))


def dense_head() -> nn.Module:
    return nn.Sequential(nn.Linear(8, 512), nn.ReLU(), nn.Linear(512, 5))


def addition_formula() -> tuple[list[sl.Term], list[sl.Term], list[sl.Term]]:
    """Digits a, b <= 9 coded by z0..z3 and z4..z7 (least significant first); y0..y4 = a + b."""
    a, b, s = sl.BitVec("a", 4), sl.BitVec("b", 4), sl.BitVec("s", 5)
    z = [sl.Bool(f"z{i}") for i in range(8)]
    y = [sl.Bool(f"y{j}") for j in range(5)]
    phi = [sl.ULE(a, 9), sl.ULE(b, 9), sl.Eq(s, sl.ZeroExt(1, a) + sl.ZeroExt(1, b))]
    phi += [sl.Eq(z[i], sl.Eq(sl.Extract(i % 4, i % 4, a if i < 4 else b), 1)) for i in range(8)]
    phi += [sl.Eq(y[j], sl.Eq(sl.Extract(j, j, s), 1)) for j in range(5)]
    return phi, z, y


def smt_head(backend: str, forward: str, cfg: dict[str, Any]) -> SMTLayer:
    phi, z, y = addition_formula()
    return SMTLayer(phi, z, y, backend=backend, forward_mode=forward, gradient=cfg["gradient"],
                    executor=cfg["executor"], workers=cfg["workers"])


# -- training -------------------------------------------------------------------------------------

OPTIMIZERS = ("adam", "sgd-one-cycle")


def optimizer_settings(tc: dict[str, Any], phase: str) -> dict[str, Any]:
    """``train_epochs``' lr, clip and one_cycle for the pre-training (``phase = "optimizer"``) or
    the SMTLayer phase (``"smt_optimizer"``): the paper's SGD one-cycle, or Adam."""
    if tc[phase] == "sgd-one-cycle":
        return {"lr": tc["sgd_lr"], "clip": tc["sgd_clip"], "one_cycle": True}
    return {"lr": tc["smt_lr" if phase == "smt_optimizer" else "lr"], "clip": tc["clip"], "one_cycle": False}


def train_epochs(model: Adder, params: Any, batches: Any, epochs: int, lr: float, clip: float,
                 label: str, one_cycle: bool = False) -> list[float]:
    """Adam on BCE-with-logits against the sum bits (``one_cycle``: SGD with a one-cycle
    schedule peaking at ``lr``, the paper's optimizer); the wall time of each epoch."""
    params = list(params)
    opt = torch.optim.SGD(params, lr=lr) if one_cycle else torch.optim.Adam(params, lr=lr)
    steps = epochs * len(batches(0)) if one_cycle else 0  # every epoch draws as many pairs
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps) if one_cycle else None
    times = []
    for epoch in range(epochs):
        start = time.perf_counter()
        for x1, x2, target in tqdm(batches(epoch), desc=f"{label} epoch {epoch + 1}/{epochs}", leave=False):
            opt.zero_grad()
            nn.functional.binary_cross_entropy_with_logits(model(x1, x2), target).backward()
            nn.utils.clip_grad_norm_(model.parameters(), clip)
            opt.step()
            if schedule is not None:
                schedule.step()
        times.append(time.perf_counter() - start)
    return times


@torch.no_grad()
def digit_codes(encoder: Encoder, data: Data) -> tuple[float, list[int]]:
    """Share of images whose 4 logit signs are exactly their digit's binary code, and each
    digit's most frequent code (where SMTLayer training settles)."""
    images, labels = data
    codes = ((encoder(images) > 0).long() << torch.arange(4)).sum(dim=1)
    return float((codes == labels).float().mean()), [int(codes[labels == d].mode().values) for d in range(10)]


@torch.no_grad()
def sum_accuracy(model: Adder, test: tuple[torch.Tensor, ...]) -> float:
    x1, x2, a, b = test
    return float(((model(x1, x2) > 0).float() == sum_bits(a, b)).all(dim=1).float().mean())


def smt_phase(model: Adder, batches: Any, epochs: int, tc: dict[str, Any], label: str) -> list[float]:
    """Train the encoder through the model's SMTLayer (with ``smt_optimizer``)."""
    return train_epochs(model, model.encoder.parameters(), batches, epochs, label=label,
                        **optimizer_settings(tc, "smt_optimizer"))


def pretrain(percent: int, pairs: list[tuple[int, int]], batches: Any, train: Data, backend: str,
             cfg: dict[str, Any]) -> tuple[Adder, list[dict[str, Any]]]:
    """The pre-trained model (encoder + dense head). With ``restarts = k > 1``, ``k`` initialisations
    (torch seeds ``seed + 7919 i``; i = 0 is the single run's) are pre-trained and each is trained
    one SMTLayer epoch on ``backend``; the one whose model then adds best on fresh pairs from the
    *training* distribution (allowed pairs, training images) is kept. The test set plays no part."""
    tc, sc = cfg["train"], cfg["smt"]
    validation = make_pairs(train, pairs, 2000, torch.Generator().manual_seed(tc["seed"] * 1000 + 999))
    models: list[Adder] = []
    scores: list[float] = []
    for i in range(tc["restarts"]):
        torch.manual_seed(tc["seed"] + 7919 * i)
        model = Adder(dense_head())
        train_epochs(model, model.parameters(), batches, tc["pretrain_epochs"],
                     label=f"p={percent}% pre-training {i + 1}/{tc['restarts']}", **optimizer_settings(tc, "optimizer"))
        if tc["restarts"] == 1:
            return model, []
        probe = Adder(smt_head(backend, sc["train_forward"], sc))
        probe.encoder.load_state_dict(model.encoder.state_dict())
        smt_phase(probe, batches, 1, tc, f"p={percent}% restart {i + 1} SMTLayer probe")
        models.append(model)
        scores.append(sum_accuracy(probe, validation))
    kept, record = keep_best(scores)
    return models[kept], record


def run_split(percent: int, backends: list[str], train: Data, test: Data, test_pairs: tuple[torch.Tensor, ...],
              cfg: dict[str, Any]) -> dict[str, Any]:
    tc, sc = cfg["train"], cfg["smt"]
    pairs = allowed_pairs(percent, tc["seed"])

    def batches(epoch: int) -> Any:
        gen = torch.Generator().manual_seed(tc["seed"] * 1000 + epoch)
        x1, x2, a, b = make_pairs(train, pairs, cfg["data"]["train_pairs"], gen)
        target = sum_bits(a, b)
        return [(x1[i], x2[i], target[i]) for i in torch.arange(len(a)).split(tc["batch_size"])]

    torch.manual_seed(tc["seed"])
    conventional = Adder(dense_head())
    conv_times = train_epochs(conventional, conventional.parameters(), batches, tc["conventional_epochs"],
                              tc["lr"], tc["clip"], f"p={percent}% conventional")
    result: dict[str, Any] = {
        "pairs": len(pairs), "conventional_accuracy": sum_accuracy(conventional, test_pairs),
        "conventional_epoch_s": float(np.mean(conv_times)), "smt": {},
    }
    pretrained, result["restarts"] = pretrain(percent, pairs, batches, train, backends[0], cfg)
    result["pretrained_accuracy"] = sum_accuracy(pretrained, test_pairs)
    encoders = {}
    for backend in backends:
        model = Adder(smt_head(backend, sc["train_forward"], sc))
        model.encoder.load_state_dict(pretrained.encoder.state_dict())
        times = smt_phase(model, batches, tc["smt_epochs"], tc, f"p={percent}% SMTLayer {backend}")
        stats = model.head.stats.as_dict()
        model.head = smt_head(backend, sc["test_forward"], sc)
        code_accuracy, codes = digit_codes(model.encoder, test)
        result["smt"][backend] = {
            "accuracy": sum_accuracy(model, test_pairs), "epoch_s": times, "stats": stats,
            "code_accuracy": code_accuracy, "codes": codes,
            "epoch_ratio_all": float(np.mean(times)) / result["conventional_epoch_s"],
            "epoch_ratio_warm": float(np.mean(times[1:] or times)) / result["conventional_epoch_s"],
        }
        encoders[backend] = model.encoder
    result["identical_forward_across_backends"] = identical_forwards(encoders, test_pairs, sc)
    return result


@torch.no_grad()
def identical_forwards(encoders: dict[str, Encoder], test: tuple[torch.Tensor, ...], sc: dict[str, Any]) -> bool:
    """Whether every backend's layer gives the same test outputs on the first backend's encoder
    (F_smt and F_max), and whether the models trained on the backends agree exactly."""
    first = next(iter(encoders.values()))
    logits = torch.cat([first(test[0]), first(test[1])], dim=1)
    for forward in ("smt", "max"):
        outputs = [smt_head(b, forward, sc)(logits) for b in encoders]
        if any(not torch.equal(o, outputs[0]) for o in outputs):
            return False
    params = [torch.cat([p.flatten() for p in e.parameters()]) for e in encoders.values()]
    return all(torch.equal(p, params[0]) for p in params)


# -- reporting ------------------------------------------------------------------------------------

def codes_cell(s: dict[str, Any]) -> str:
    """``0.97 (3 -> 5)``: the exact-code share, then each digit whose usual code is another digit's."""
    if "codes" not in s:
        return "n/a"
    wrong = [f"{d} -> {c}" for d, c in enumerate(s["codes"]) if c != d]
    return f"{s['code_accuracy']:.2f}" + (f" ({', '.join(wrong)})" if wrong else "")


def report(results: dict[str, Any]) -> str:
    a2 = results["supervised_accuracy"] ** 2
    lines = [
        f"# MNIST addition with SMTLayer ({results['data']})", "",
        f"Supervised single-digit accuracy a = {results['supervised_accuracy']:.4f}; a^2 = {a2:.4f}. "
        f"Gradient {results['config']['smt']['gradient']}, F_{results['config']['smt']['train_forward']} in "
        f"training, F_{results['config']['smt']['test_forward']} at test. Optimizer: pre-training "
        f"{results['config']['train']['optimizer']}, SMTLayer phase {results['config']['train']['smt_optimizer']}. "
        f"Sum accuracy on {results['test_pairs']} "
        "test pairs over all 100 digit pairs; epoch times in seconds.", "",
        "| p | conventional | pre-trained | backend | SMTLayer | within 3 pts of a^2 | exact digit codes (wrong ones) "
        "| conv. epoch | SMT epoch (first / rest) | ratio (all / warm) | identical across backends |",
        "|---:|---:|---:|---|---:|---|---|---:|---:|---:|---|",
    ]
    for percent, r in results["splits"].items():
        for backend, s in r["smt"].items():
            lines.append(
                f"| {percent}% | {r['conventional_accuracy']:.4f} | {r['pretrained_accuracy']:.4f} | {backend} | "
                f"{s['accuracy']:.4f} | {'yes' if s['accuracy'] >= a2 - 0.03 else 'no'} | {codes_cell(s)} | "
                f"{r['conventional_epoch_s']:.2f} | {s['epoch_s'][0]:.2f} / {np.mean(s['epoch_s'][1:] or s['epoch_s']):.2f} | "
                f"{s['epoch_ratio_all']:.2f} / {s['epoch_ratio_warm']:.2f} | "
                f"{'yes' if r['identical_forward_across_backends'] else 'NO'} |"
            )
    restarts = results["config"]["train"]["restarts"]
    if restarts > 1:
        lines += ["", f"Restarts: {restarts} initialisations per split, each pre-trained and trained one SMTLayer "
                  f"epoch on {results['config']['smt']['backends'][0]}; "
                  "sum accuracy of each on 2,000 pairs from the training distribution (kept one in bold):", ""]
        lines += [f"- {percent}%: {restart_cells(r['restarts'])}" for percent, r in results["splits"].items()]
    return "\n".join(lines) + "\n"


def plot(results: dict[str, Any]) -> "Figure":
    import matplotlib.pyplot as plt

    splits = [int(p) for p in results["splits"]]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(splits, [r["conventional_accuracy"] for r in results["splits"].values()], "o-", label="conventional")
    first = results["config"]["smt"]["backends"][0]
    ax.plot(splits, [r["smt"][first]["accuracy"] for r in results["splits"].values()], "s-", label=f"SMTLayer ({first})")
    ax.axhline(results["supervised_accuracy"] ** 2, ls="--", c="gray", label="a^2 (supervised digits)")
    ax.set(xlabel="p: % of digit pairs in training", ylabel="test sum accuracy", ylim=(0, 1.02), xticks=splits)
    ax.legend(loc="lower right")
    return fig


def summary_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The combined report's rows: per split, the conventional network and each backend's layer."""
    rows, a2 = [], results["supervised_accuracy"] ** 2
    for percent, r in results["splits"].items():
        common = {"experiment": "MNIST addition", "configuration": f"{percent}%"}
        rows.append({**common, "method": "conventional", "accuracy": r["conventional_accuracy"],
                     "epoch_s": r["conventional_epoch_s"]})
        rows += [{**common, "method": f"SMTLayer ({b})", "accuracy": s["accuracy"], "epoch_s": float(np.mean(s["epoch_s"])),
                  "target": a2 - 0.03, "target_note": "a^2 - 3 pts, a = this encoder's digit accuracy"}
                 for b, s in r["smt"].items()]
    return rows


def main(argv: list[str] | None = None) -> None:
    args = solver_experiment_args(__doc__, HERE, argv)
    cfg = args.cfg
    tc = cfg["train"]
    for key in ("optimizer", "smt_optimizer"):
        if tc[key] not in OPTIMIZERS:
            raise SystemExit(f"train.{key} = {tc[key]!r}: choose one of {', '.join(OPTIMIZERS)}")
    seed = tc["seed"]
    train, test = load_images(cfg["data"], seed)
    test_pairs = make_pairs(test, [(i, j) for i in range(10) for j in range(10)], cfg["data"]["test_pairs"],
                            torch.Generator().manual_seed(seed + 1))
    results: dict[str, Any] = {
        "data": f"MNIST from {cfg['data']['mnist_dir']}" if cfg["data"]["mnist_dir"] else "scikit-learn 8x8 digits",
        "config": cfg, "quick": args.quick, "test_pairs": len(test_pairs[0]),
        "supervised_accuracy": digit_accuracy(lambda: Encoder(10), train, test, tc["supervised_epochs"],
                                              tc["batch_size"], tc["lr"], seed), "splits": {},
    }
    backends = cfg["smt"]["backends"]
    for percent in cfg["data"]["splits"]:
        chosen = backends if percent in cfg["smt"]["splits_all_backends"] else backends[:1]
        results["splits"][str(percent)] = run_split(percent, chosen, train, test, test_pairs, cfg)
        print(f"p={percent}%: " + json.dumps({k: v for k, v in results["splits"][str(percent)].items() if k != "smt"})
              + " " + json.dumps({b: round(s["accuracy"], 4) for b, s in results["splits"][str(percent)]["smt"].items()}),
              flush=True)
    results["summary"] = summary_rows(results)
    markdown = report(results)
    save_results(args.out, results, markdown, lambda: plot(results))
    print(markdown)


if __name__ == "__main__":
    main()
