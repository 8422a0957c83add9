"""Parity with single-bit supervision (Wang et al., ICML 2019, section 4.1) with the SATNet layer.

One ``SATNet(3, m=4, aux=4, prox_lam=0.1)`` is applied recurrently along a random bit string:
step ``t`` reads the previous step's output (rounded to 0/1 from the second step on, as in the
official script) and bit ``t``, and produces the parity so far. Only the final soft output is
supervised (binary cross-entropy against the string's parity), so the gradient reaches the
shared clause matrix through the last step alone. SGD, lr 0.1, batch 100, 9,000 training and
1,000 test strings per length, one run per configured seed. Target: 100% test accuracy at lengths
20 and 40.

    python examples/satnet_parity/train.py [--config config.toml] [--set KEY=VALUE] [--quick] [--out DIR]

Writes ``results.json`` (config, per-epoch history, summary rows), ``results.md`` and
``results.png`` (learning curves) to ``--out`` (default ``results/`` beside this script).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from tqdm import tqdm

from solverlayers.layers import SATNet

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import experiment_args, machine, save_results  # noqa: E402

if TYPE_CHECKING:
    from matplotlib.figure import Figure

HERE = Path(__file__).parent


class RecurrentParity(nn.Module):
    """``(B, L)`` bits -> ``(B,)`` probability that the string's parity is 1."""

    def __init__(self, model_cfg: dict[str, Any], generator: torch.Generator) -> None:
        super().__init__()
        self.sat = SATNet(3, m=model_cfg["m"], aux=model_cfg["aux"], prox_lam=model_cfg["prox_lam"],
                          backend=model_cfg["backend"], generator=generator, device=model_cfg["device"])

    def forward(self, bits: torch.Tensor) -> torch.Tensor:
        is_input = torch.tensor([[1, 1, 0]], dtype=torch.int32, device=bits.device).expand(bits.shape[0], 3)
        state = bits[:, 0]
        for t in range(1, bits.shape[1]):
            if t > 1:  # the official script feeds the rounded output on: no gradient through earlier steps
                state = (state.detach() > 0.5).to(bits.dtype)
            z = torch.stack([state, bits[:, t], torch.zeros_like(state)], dim=1)
            state = self.sat(z, is_input)[:, 2]
        return state


@torch.no_grad()
def accuracy(model: RecurrentParity, bits: torch.Tensor, labels: torch.Tensor, batch: int) -> float:
    preds = torch.cat([model(bits[i:i + batch]) for i in range(0, len(bits), batch)])
    return float(((preds > 0.5).to(labels.dtype) == labels).float().mean())


def make_data(length: int, data: dict[str, Any], device: torch.device) -> tuple[torch.Tensor, ...]:
    """Training strings, their parities, test strings, their parities (the same for every run)."""
    gen = torch.Generator().manual_seed(data["seed"])
    bits = torch.randint(0, 2, (data["train"] + data["test"], length), generator=gen).float().to(device)
    labels = bits.sum(1).remainder(2)
    return bits[:data["train"]], labels[:data["train"]], bits[data["train"]:], labels[data["train"]:]


def train_run(length: int, seed: int, cfg: dict[str, Any]) -> tuple[RecurrentParity, dict[str, Any]]:
    """Train one layer (initialization, batch order and random draws from ``seed``) on strings of
    ``length`` bits; the layer and its per-epoch history."""
    data, mc, tc = cfg["data"], cfg["model"], cfg["train"]
    device = torch.device(mc["device"])
    train_x, train_y, test_x, test_y = make_data(length, data, device)
    gen = torch.Generator().manual_seed(seed)
    model = RecurrentParity(mc, gen)
    optim = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}[tc["optimizer"]]
    opt = optim(model.parameters(), lr=tc["lr"])
    batch = tc["batch_size"]
    history = [{"epoch": 0, "test_acc": accuracy(model, test_x, test_y, batch)}]
    for epoch in range(1, tc["epochs"] + 1):
        start = time.perf_counter()
        perm = torch.randperm(data["train"], generator=gen).to(device)
        loss_sum, correct = 0.0, 0.0
        bar = tqdm(perm.split(batch), desc=f"L={length} seed {seed} epoch {epoch}/{tc['epochs']}", leave=False)
        for idx in bar:
            pred = model(train_x[idx])
            loss = nn.functional.binary_cross_entropy(pred, train_y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(idx)
            correct += float(((pred > 0.5).to(pred.dtype) == train_y[idx]).sum())
            bar.set_postfix(loss=f"{loss.item():.3f}")
        seconds = time.perf_counter() - start
        record = {"epoch": epoch, "train_loss": loss_sum / data["train"], "train_acc": correct / data["train"],
                  "test_acc": accuracy(model, test_x, test_y, batch), "epoch_s": seconds}
        history.append(record)
        tqdm.write(f"L={length} seed {seed} epoch {epoch}: loss {record['train_loss']:.4f}, train acc "
                   f"{record['train_acc']:.4f}, test acc {record['test_acc']:.4f} ({seconds:.1f} s)")
        perfect = [r["test_acc"] == 1.0 for r in history[1:]]
        if tc["stop_after"] and len(perfect) >= tc["stop_after"] and all(perfect[-tc["stop_after"]:]):
            break
    return model, {"length": length, "seed": seed, "history": history}


def first_perfect(run: dict[str, Any]) -> int | None:
    return next((r["epoch"] for r in run["history"][1:] if r["test_acc"] == 1.0), None)


def summary_row(run: dict[str, Any], backend: str) -> dict[str, Any]:
    trained = run["history"][1:]
    curve = [r["test_acc"] for r in trained]
    best = max(trained, key=lambda r: r["test_acc"])
    first = first_perfect(run)
    note = (f"100% test accuracy first at epoch {first}" if first is not None
            else f"target 100% not reached in {len(trained)} epochs: best {best['test_acc']:.3f} at epoch {best['epoch']}")
    return {"experiment": "satnet_parity", "configuration": f"L={run['length']}, seed {run['seed']}",
            "method": f"SATNet ({backend})", "accuracy": curve[-1],
            "epoch_s": sum(r["epoch_s"] for r in trained) / len(trained), "curve": curve, "note": note}


def markdown(results: dict[str, Any]) -> str:
    d, t = results["config"]["data"], results["config"]["train"]
    lines = [f"# Parity with single-bit supervision (SATNet, {results['config']['model']['backend']})", "",
             f"{d['train']} training / {d['test']} test strings per length, {t['optimizer'].upper()} lr {t['lr']}, "
             f"batch {t['batch_size']}, at most {t['epochs']} epochs (a run stops once its test accuracy has been 100% "
             f"for {t['stop_after']} epochs). Machine: {results['machine']}.", "",
             "| length | seed | epochs | final test acc | best test acc | 100% first at epoch | train loss (last epoch) "
             "| epoch (s) | the trained layer's test acc at other lengths |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for run, row in zip(results["runs"], results["summary"]):
        first = first_perfect(run)
        others = ", ".join(f"L={k}: {v:.4f}" for k, v in run["other_lengths_test_acc"].items())
        lines.append(f"| {run['length']} | {run['seed']} | {len(row['curve'])} | {row['accuracy']:.4f} | "
                     f"{max(row['curve']):.4f} | {first if first is not None else 'not reached'} | "
                     f"{run['history'][-1]['train_loss']:.4f} | {row['epoch_s']:.1f} | {others or '-'} |")
    return "\n".join(lines) + "\n"


def plot(results: dict[str, Any]) -> "Figure":
    import matplotlib.pyplot as plt

    lengths = results["config"]["data"]["lengths"]
    fig, axes = plt.subplots(1, len(lengths), figsize=(5 * len(lengths), 3.8), squeeze=False)
    for ax, length in zip(axes[0], lengths):
        for run in (r for r in results["runs"] if r["length"] == length):
            h = run["history"]
            line = ax.plot([r["epoch"] for r in h], [r["test_acc"] for r in h], "o-", ms=3,
                           label=f"seed {run['seed']} test")[0]
            ax.plot([r["epoch"] for r in h[1:]], [r["train_acc"] for r in h[1:]], "--", color=line.get_color(),
                    label=f"seed {run['seed']} train")
        ax.set(title=f"parity, L={length}", xlabel="epoch", ylabel="accuracy", ylim=(0.4, 1.02))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return fig


def main(argv: list[str] | None = None) -> None:
    args = experiment_args(__doc__, HERE, argv)
    cfg = args.cfg
    torch.set_num_threads(cfg["train"]["threads"])
    device = torch.device(cfg["model"]["device"])
    started = time.perf_counter()
    runs = []
    for length in cfg["data"]["lengths"]:
        for seed in cfg["train"]["seeds"]:
            model, run = train_run(length, seed, cfg)
            run["other_lengths_test_acc"] = {  # a layer that learned XOR solves strings of any length
                str(other): accuracy(model, *make_data(other, cfg["data"], device)[2:], cfg["train"]["batch_size"])
                for other in cfg["data"]["lengths"] if other != length}
            runs.append(run)
    results: dict[str, Any] = {"config": cfg, "quick": args.quick, "wall_s": time.perf_counter() - started,
                               "machine": machine(), "summary": [summary_row(r, cfg["model"]["backend"]) for r in runs],
                               "runs": runs}
    text = markdown(results)
    save_results(args.out, results, text, lambda: plot(results))
    print(text)


if __name__ == "__main__":
    main()
