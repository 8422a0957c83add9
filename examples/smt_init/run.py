"""SMT weight initialization vs Glorot and Kaiming on the embedded 8x8 digits.

For each task (even vs odd; the ten digits) and seed, three copies of one MLP (64-64-classes,
ReLU) are initialized (Glorot uniform; Kaiming normal; Kaiming normal then
``solverlayers.init.smt_`` on the output layer), trained identically with SGD, and evaluated on
a held-out test set after each recorded epoch. The SMT model shares the Kaiming model's hidden
layer, so the two differ only in the output layer the solver sets.

    python examples/smt_init/run.py [--config config.toml] [--quick] [--out DIR]

Writes ``results.json`` (config, every run, summary), ``results.md`` (table) and
``results.png`` to ``--out`` (default: ``results/`` beside this script).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import tomllib
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from solverlayers.init import smt_
from torch import nn
from tqdm import tqdm

HERE = Path(__file__).parent
INITS = ("glorot", "kaiming", "smt")


def load_config(path: Path, quick: bool) -> dict[str, Any]:
    cfg = tomllib.loads(path.read_text())
    if quick:
        q = cfg["quick"]
        cfg["experiment"].update({k: q[k] for k in ("seeds", "epochs", "hidden")})
        cfg["smt"]["timeout"] = q["timeout"]
        cfg["cost"].update(samples=[q["samples"]], variants=q["cost_variants"], timeout=q["timeout"])
        for task in cfg["tasks"].values():
            task["samples"] = q["samples"]
    return cfg


def load_data(test_fraction: float) -> dict[str, tuple[torch.Tensor, ...]]:
    """Per task: train inputs, train labels, test inputs, test labels (pixels scaled to [0, 1])."""
    digits = load_digits()
    x_tr, x_te, y_tr, y_te = train_test_split(digits.data / 16.0, digits.target, test_size=test_fraction,
                                              stratify=digits.target, random_state=0)
    tensors = [torch.tensor(a, dtype=torch.float32) for a in (x_tr, x_te)]
    labels = [torch.tensor(a, dtype=torch.long) for a in (y_tr, y_te)]
    return {"binary": (tensors[0], labels[0] % 2, tensors[1], labels[1] % 2),
            "digits10": (tensors[0], labels[0], tensors[1], labels[1])}


def make_model(n_in: int, hidden: int, n_out: int, init: str, seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, n_out))
    for layer in (model[0], model[2]):
        if init == "glorot":
            nn.init.xavier_uniform_(layer.weight)
        else:  # kaiming, and the starting point of smt
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
        nn.init.zeros_(layer.bias)
    return model


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def run_one(task: str, data: tuple[torch.Tensor, ...], init: str, seed: int, cfg: dict[str, Any],
            config_path: Path) -> dict[str, Any]:
    exp, x_tr, y_tr, x_te, y_te = cfg["experiment"], *data
    n_out = int(y_tr.max()) + 1
    started = time.perf_counter()
    model = make_model(x_tr.shape[1], exp["hidden"], n_out, init, seed)
    record: dict[str, Any] = {"task": task, "init": init, "seed": seed}
    if init == "smt":
        report = smt_(model, x_tr, y_tr, seed=seed, config_file=config_path, **cfg["smt"], **cfg["tasks"][task])
        record["smt"] = {"status": report.status.value, "reason": report.reason, "backend": report.backend,
                         "encode_seconds": report.encode_seconds, "solve_seconds": report.solve_seconds,
                         "problems": report.problems, "variables": report.variables,
                         "constraints": report.constraints, "scale": report.scale, "min_margin": report.min_margin}
    record["init_seconds"] = time.perf_counter() - started
    record["train_accuracy_at_init"] = accuracy(model, x_tr, y_tr)
    acc = {0: accuracy(model, x_te, y_te)}
    opt = torch.optim.SGD(model.parameters(), lr=exp["lr"], momentum=exp["momentum"])
    g = torch.Generator().manual_seed(seed)
    for epoch in range(1, max(exp["epochs"]) + 1):
        for idx in torch.randperm(len(x_tr), generator=g).split(exp["batch_size"]):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x_tr[idx]), y_tr[idx]).backward()
            opt.step()
        if epoch in exp["epochs"]:
            acc[epoch] = accuracy(model, x_te, y_te)
    record["test_accuracy"] = {str(k): v for k, v in acc.items()}
    return record


def cost_sweep(data: dict[str, tuple[torch.Tensor, ...]], cfg: dict[str, Any], config_path: Path) -> list[dict[str, Any]]:
    """Solver cost per choice of layers, targets and sample count (seed 0); a variant stops at its
    first sample count that is not solved, as larger ones only cost more."""
    cost, exp = cfg["cost"], cfg["experiment"]
    x, y = data[cost["task"]][:2]
    rows = []
    jobs = [(v, n) for v in cost["variants"] for n in cost["samples"]]
    failed: set[str] = set()
    for variant, n in tqdm(jobs, unit="solve", desc="cost"):
        if variant in failed:
            continue
        layers, targets = variant.split("/")
        model = make_model(x.shape[1], exp["hidden"], int(y.max()) + 1, "kaiming", 0)
        settings = {**cfg["smt"], "layers": layers, "targets": targets, "samples": n, "timeout": cost["timeout"]}
        report = smt_(model, x, y, seed=0, config_file=config_path, **settings)
        rows.append({"variant": variant, "samples": n, "status": report.status.value,
                     "encode_seconds": report.encode_seconds, "solve_seconds": report.solve_seconds,
                     "variables": report.variables, "constraints": report.constraints})
        if not report.written:
            failed.add(variant)
    return rows


def _stats(values: list[float]) -> dict[str, float]:
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0}


def summarize(runs: list[dict[str, Any]], epochs: list[int]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for task in dict.fromkeys(r["task"] for r in runs):
        for init in INITS:
            rs = [r for r in runs if r["task"] == task and r["init"] == init]
            entry = {"accuracy": {str(e): _stats([r["test_accuracy"][str(e)] for r in rs]) for e in [0, *epochs]},
                     "init_seconds": _stats([r["init_seconds"] for r in rs])}
            if init == "smt":
                entry["solved"] = sum(r["smt"]["status"] == "solved" for r in rs)
                entry["runs"] = len(rs)
                # same seed, same hidden layer: the difference isolates the solved output layer
                kaiming = {r["seed"]: r for r in runs if r["task"] == task and r["init"] == "kaiming"}
                entry["minus_kaiming"] = {
                    str(e): _stats([r["test_accuracy"][str(e)] - kaiming[r["seed"]]["test_accuracy"][str(e)] for r in rs])
                    for e in [0, *epochs]}
            out[f"{task}/{init}"] = entry
    return out


def write_table(summary: dict[str, Any], epochs: list[int], cost: list[dict[str, Any]], cost_task: str,
                path: Path) -> None:
    cols = [0, *epochs]
    head = "| task | init | " + " | ".join(f"epoch {e}" for e in cols) + " | init time (s) | solved |"
    lines = [head, "|" + "---|" * (len(cols) + 4)]
    for key, s in summary.items():
        task, init = key.split("/")
        accs = " | ".join(f"{100 * s['accuracy'][str(e)]['mean']:.1f} ± {100 * s['accuracy'][str(e)]['std']:.1f}"
                          for e in cols)
        t = s["init_seconds"]
        solved = f"{s['solved']}/{s['runs']}" if "solved" in s else ""
        lines.append(f"| {task} | {init} | {accs} | {t['mean']:.3g} ± {t['std']:.2g} | {solved} |")
        if "minus_kaiming" in s:
            d = s["minus_kaiming"]
            diffs = " | ".join(f"{100 * d[str(e)]['mean']:+.1f} ± {100 * d[str(e)]['std']:.1f}" for e in cols)
            lines.append(f"| {task} | smt − kaiming, paired by seed | {diffs} | | |")
    lines += ["", f"Solver cost on {cost_task} (seed 0; a variant stops after its first unsolved size):", "",
              "| layers/targets | samples | status | encode (s) | solve (s) | variables | constraints |",
              "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['variant']} | {r['samples']} | {r['status']} | {r['encode_seconds']:.2f} | "
              f"{r['solve_seconds']:.2f} | {r['variables']} | {r['constraints']} |" for r in cost]
    path.write_text("Test accuracy (%), mean ± std over seeds; epoch 0 is right after initialization.\n\n"
                    + "\n".join(lines) + "\n")


def plot(summary: dict[str, Any], epochs: list[int], cost: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(dict.fromkeys(k.split("/")[0] for k in summary))
    fig, axes = plt.subplots(1, len(tasks) + 1, figsize=(5 * (len(tasks) + 1), 3.8), squeeze=False)
    xs = [0, *epochs]
    for ax, task in zip(axes[0], tasks):
        for init in INITS:
            s = summary[f"{task}/{init}"]["accuracy"]
            ax.errorbar(xs, [100 * s[str(e)]["mean"] for e in xs], yerr=[100 * s[str(e)]["std"] for e in xs],
                        marker="o", capsize=3, label=init)
        ax.set(title=task, xlabel="epoch", ylabel="test accuracy (%)", xscale="symlog", xticks=xs,
               xticklabels=[str(e) for e in xs])
        ax.grid(alpha=0.3)
        ax.legend()
    ax = axes[0][-1]
    for variant in dict.fromkeys(r["variant"] for r in cost):
        rs = [r for r in cost if r["variant"] == variant]
        ax.plot([r["samples"] for r in rs], [r["encode_seconds"] + r["solve_seconds"] for r in rs], marker="o",
                label=variant)
        ax.scatter([r["samples"] for r in rs if r["status"] != "solved"],
                   [r["encode_seconds"] + r["solve_seconds"] for r in rs if r["status"] != "solved"],
                   marker="x", s=80, color="black", zorder=3)
    ax.set(title="SMT init time (x: not solved)", xlabel="samples", ylabel="seconds", yscale="log")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=HERE / "config.toml")
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args(argv)
    cfg = load_config(args.config, args.quick)
    exp = cfg["experiment"]
    data = load_data(exp["test_fraction"])
    jobs = [(task, init, seed) for task in cfg["tasks"] for seed in exp["seeds"] for init in INITS]
    runs = []
    started = time.perf_counter()
    with tqdm(jobs, unit="run") as bar:
        for task, init, seed in bar:
            bar.set_postfix_str(f"{task} {init} seed {seed}")
            runs.append(run_one(task, data[task], init, seed, cfg, args.config))
    summary = summarize(runs, exp["epochs"])
    cost = cost_sweep(data, cfg, args.config)
    args.out.mkdir(parents=True, exist_ok=True)
    result = {"config": cfg, "quick": args.quick, "wall_seconds": time.perf_counter() - started,
              "torch": torch.__version__, "summary": summary, "cost": cost, "runs": runs}
    (args.out / "results.json").write_text(json.dumps(result, indent=1))
    write_table(summary, exp["epochs"], cost, cfg["cost"]["task"], args.out / "results.md")
    plot(summary, exp["epochs"], cost, args.out / "results.png")
    print((args.out / "results.md").read_text())


if __name__ == "__main__":
    torch.set_num_threads(1)  # tiny models: more threads only contend for the cores
    main()
