"""The combined report: every paper experiment beside Table 1 of the SMTLayer paper.

    python examples/report.py                 # run every experiment with its config, then report
    python examples/report.py --quick         # the smoke run CI uses (each experiment's [quick] settings)
    python examples/report.py --collect       # report the results already recorded in examples/*/results*

Each experiment is its own script (one command, one config file); this runs them in turn as
subprocesses with ``--out <out>/<name>`` (``--only`` picks some). Besides each default run, a run
may set overrides: visual Sudoku at the paper's size, and MNIST addition with the paper's recipe
(a comparison: every SMTLayer row of the same configuration is checked against it). It reads the
``summary`` rows of their ``results.json`` and writes ``report.md`` (accuracy and seconds per epoch beside the
paper's, the targets checked, the hardware named) and ``curves.png`` (learning curves).
Targets: SMTLayer accuracy at or above the paper's SMTLayer figure, and an SMTLayer epoch at most
2x a conventional epoch of the same configuration.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import machine  # noqa: E402


@dataclass(frozen=True)
class Experiment:
    """A run of one experiment script: its ``--set`` overrides (full runs only; ``--quick`` skips a
    run that has some), the folder its results are recorded in, and a label for its rows (with
    details for the report's notes)."""

    script: str
    overrides: tuple[str, ...] = ()
    results: str = "results"
    label: str = ""
    details: str = ""
    comparison: bool = False  # its SMTLayer rows are the paper's recipe on our data: the others' comparison

    def folder(self) -> Path:
        return HERE / Path(self.script).parent / self.results

    def command(self) -> str:
        """The command that records this run's results."""
        overrides = "".join(f" --set '{item}'" for item in self.overrides)
        out = "" if self.results == "results" else f" --out {self.folder().relative_to(HERE.parent)}"
        return f"python examples/{self.script}{overrides}{out}"


EXPERIMENTS = {
    "mnist_addition": Experiment("mnist_addition/train.py"),
    "mnist_addition_paper_recipe": Experiment(
        "mnist_addition/train.py",
        ("optimizer=sgd-one-cycle", "smt_optimizer=sgd-one-cycle", "restarts=1", 'backends=["z3"]'),
        results="results_paper_recipe", label="the paper's recipe", comparison=True,
        details="SGD with a one-cycle schedule to lr 1.0, gradient-norm clipping 0.1, one initialisation: the "
                "paper's settings on our data"),
    "visual_algebra": Experiment("visual_algebra/train.py"),
    "liars_puzzle": Experiment("liars_puzzle/train.py"),
    "visual_sudoku": Experiment("visual_sudoku/train.py"),
    "visual_sudoku_paper_size": Experiment(
        "visual_sudoku/train.py",
        ("train_boards=9000", "test_boards=1000", "splits=[10, 100]", "smt_epochs=[15, 5]", "conventional_epochs=1"),
        results="results_paper_size", label="the paper's size",
        details="9,000 training and 1,000 test boards, 15 / 5 SMTLayer epochs as the paper; the conventional "
                "network and SATNet train 1 epoch here, so their rows give timings, not accuracies"),
}

# Table 1 of Fredrikson et al. (ICML 2023): (experiment, configuration) -> method -> (accuracy %, s per epoch).
# Their hardware: RTX 3080 GPU, i9 CPU; data: MNIST, EMNIST and HASY (ours: see each experiment's README).
PAPER: dict[tuple[str, str], dict[str, tuple[float, float]]] = {
    ("MNIST addition", "10%"): {"conventional": (10.0, 7.1), "SMTLayer": (98.1, 75.4), "SATNet": (10.0, 31.0)},
    ("MNIST addition", "25%"): {"conventional": (32.5, 7.1), "SMTLayer": (98.3, 74.8), "SATNet": (34.2, 30.9)},
    ("MNIST addition", "50%"): {"conventional": (51.5, 7.0), "SMTLayer": (98.6, 75.8), "SATNet": (54.8, 32.8)},
    ("MNIST addition", "100%"): {"conventional": (98.3, 7.1), "SMTLayer": (98.5, 75.8), "SATNet": (96.7, 33.5)},
    ("visual algebra", "#1"): {"conventional": (24.1, 13.2), "SMTLayer": (98.2, 168.2), "SATNet": (19.6, 80.1)},
    ("visual algebra", "#2"): {"conventional": (25.4, 11.2), "SMTLayer": (25.4, 127.2), "SATNet": (18.6, 52.5)},
    ("liar's puzzle", ""): {"conventional": (54.2, 3.1), "SMTLayer": (86.1, 28.7), "SATNet": (84.6, 3.0)},
    ("visual Sudoku", "10%"): {"conventional": (0.0, 6.3), "SMTLayer": (66.0, 135.7), "SATNet": (0.0, 9.9)},
    ("visual Sudoku", "100%"): {"conventional": (0.0, 26.7), "SMTLayer": (79.1, 1199.0), "SATNet": (63.2, 86.5)},
}
MAX_EPOCH_RATIO = 2.0


def run(names: list[str], out: Path, quick: bool) -> dict[str, float]:
    """Run each experiment's script; the wall seconds of each. A failing experiment stops the run."""
    seconds = {}
    for name in names:
        experiment = EXPERIMENTS[name]
        command = [sys.executable, str(HERE / experiment.script), "--out", str(out / name)]
        command += ["--quick"] if quick else [arg for item in experiment.overrides for arg in ("--set", item)]
        print(f"== {name}: {' '.join(command[1:])}", flush=True)
        start = time.perf_counter()
        subprocess.run(command, check=True)
        seconds[name] = time.perf_counter() - start
    return seconds


def load_rows(folders: dict[str, Path]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The summary rows of each folder's results.json, and each experiment's machine line."""
    rows, machines = [], {}
    for name, folder in folders.items():
        path = folder / "results.json"
        if not path.exists():
            raise SystemExit(f"{path} does not exist: run `{EXPERIMENTS[name].command()}` first, "
                             f"or leave {name} out with --only")
        results = json.loads(path.read_text())
        experiment = EXPERIMENTS[name]
        rows += [{**row, "source": name, "label": experiment.label, "quick": results.get("quick", False),
                  "comparison": row.get("comparison", False)
                  or (experiment.comparison and paper_method(row["method"]) == "SMTLayer")} for row in results["summary"]]
        machines[name] = results.get("machine", "not recorded")
    return rows, machines


def paper_method(method: str) -> str:
    return method.split(" (")[0]


def checks(row: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    """The targets of an SMTLayer row: accuracy at or above the paper's SMTLayer, epoch at most 2x conventional."""
    if paper_method(row["method"]) != "SMTLayer":
        return ""
    if row.get("comparison"):
        return "the paper's recipe on our data (a comparison, not a target)"
    verdicts = []
    paper = PAPER.get((row["experiment"], row["configuration"]), {}).get("SMTLayer")
    if paper is not None:
        verdicts.append(("acc >= paper" if 100 * row["accuracy"] >= paper[0] else "acc < paper"))
    if row.get("target") is not None:
        verdicts.append("acc ok" if row["accuracy"] >= row["target"] else "acc MISSED")
    for recipe in (r for r in rows if r.get("comparison") and r["source"] != row["source"]
                   and (r["experiment"], r["configuration"]) == (row["experiment"], row["configuration"])):
        verdicts.append(f"acc {'>=' if row['accuracy'] >= recipe['accuracy'] else '<'} the paper's recipe "
                        f"({100 * recipe['accuracy']:.1f})")
    conventional = [r for r in rows if r["method"] == "conventional" and r["source"] == row["source"]
                    and r["configuration"] == row["configuration"]]
    if conventional and conventional[0]["epoch_s"] > 0:
        ratio = row["epoch_s"] / conventional[0]["epoch_s"]
        verdicts.append(f"{ratio:.2f}x conv. epoch " + ("ok" if ratio <= MAX_EPOCH_RATIO else "MISSED"))
    return ", ".join(verdicts)


def table(rows: list[dict[str, Any]]) -> list[str]:
    lines = ["| experiment | configuration | method | accuracy % | s / epoch | paper accuracy % | paper s / epoch "
             "| target on our data | targets |", "|---|---|---|---:|---:|---:|---:|---|---|"]
    for row in rows:
        paper = PAPER.get((row["experiment"], row["configuration"]), {}).get(paper_method(row["method"]))
        paper_acc, paper_s = (f"{paper[0]:.1f}", f"{paper[1]:.1f}") if paper else ("n/a", "n/a")
        note = f" ({row['note']})" if row.get("note") else ""
        configuration = (row["configuration"] or "-") + (f" ({row['label']})" if row["label"] else "")
        target = f"{100 * row['target']:.1f} ({row.get('target_note', '')})" if row.get("target") is not None else ""
        lines.append(f"| {row['experiment']} | {configuration} | {row['method']}{note} | "
                     f"{100 * row['accuracy']:.1f} | {row['epoch_s']:.2f} | {paper_acc} | {paper_s} | {target} | "
                     f"{checks(row, rows)} |")
    return lines


def report(rows: list[dict[str, Any]], machines: dict[str, str], command: str, seconds: dict[str, float]) -> str:
    quick = any(r["quick"] for r in rows)
    lines = [
        "# solverlayers: the papers' experiments, reproduced", "",
        f"Command: `{command}`" + (" (QUICK smoke settings: not a result)" if quick else ""), "",
        "Hardware: " + "; ".join(sorted(set(machines.values()))) + ". Paper: RTX 3080 GPU and i9 CPU, MNIST/EMNIST/"
        "HASY data; ours: the embedded 8x8 digits and generated glyphs unless an experiment's README says otherwise, "
        "so accuracies compare methods on the same data, and the paper's figures are context.", "",
        *table(rows), "",
        f"Targets: SMTLayer accuracy at or above the paper's SMTLayer figure; where our data differ from the paper's, "
        "at or above the target on our data the row names (for example the ceiling a^2 that a perfect solver layer "
        "reaches with a digit classifier of accuracy a, or the paper's method and settings run on our data); an "
        f"SMTLayer epoch at most {MAX_EPOCH_RATIO:g}x a conventional epoch of the same configuration and run.",
    ]
    sources = dict.fromkeys(r["source"] for r in rows)
    notes = [f"- {EXPERIMENTS[n].label}: {EXPERIMENTS[n].details} (`{EXPERIMENTS[n].command()}`)."
             for n in sources if n in EXPERIMENTS and EXPERIMENTS[n].details]
    lines += ["", *notes] if notes else []
    if seconds:
        lines += ["", "Wall time per experiment: " + ", ".join(f"{k} {v / 60:.1f} min" for k, v in seconds.items())]
    lines += ["", "Per-experiment details, protocols and deviations: examples/<name>/README.md and results.md.",
              "", "![learning curves](curves.png)", ""]
    return "\n".join(lines)


def plot_curves(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = list(dict.fromkeys((r["experiment"], r["configuration"], r["label"]) for r in rows if r.get("curve")))
    if not panels:
        return
    cols = min(3, len(panels))
    fig, axes = plt.subplots((len(panels) + cols - 1) // cols, cols, figsize=(4.2 * cols, 3.2 * ((len(panels) + cols - 1) // cols)),
                             squeeze=False)
    for ax, (experiment, configuration, label) in zip(axes.flat, panels):
        for r in rows:
            if (r["experiment"], r["configuration"], r["label"]) == (experiment, configuration, label) and r.get("curve"):
                ax.plot(range(1, len(r["curve"]) + 1), r["curve"], marker=".", label=r["method"])
        title = ", ".join(part for part in (f"{experiment} {configuration}".strip(), label) if part)
        ax.set(title=title, xlabel="epoch", ylabel="test accuracy", ylim=(0, 1.02))
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="each experiment's [quick] settings (CI smoke run)")
    parser.add_argument("--collect", action="store_true", help="run nothing: report examples/*/results")
    parser.add_argument("--only", nargs="+", choices=list(EXPERIMENTS), default=list(EXPERIMENTS))
    parser.add_argument("--out", type=Path, default=HERE / "report")
    args = parser.parse_args(argv)
    if args.collect and args.quick:
        parser.error("--collect reports recorded results; --quick runs the experiments: choose one")
    names = [n for n in args.only if not (args.quick and EXPERIMENTS[n].overrides)]
    seconds = {} if args.collect else run(names, args.out, args.quick)
    folders = {n: EXPERIMENTS[n].folder() if args.collect else args.out / n for n in names}
    rows, machines = load_rows(folders)
    command = "python examples/report.py " + " ".join(argv if argv is not None else sys.argv[1:])
    args.out.mkdir(parents=True, exist_ok=True)
    text = report(rows, machines, command.strip(), seconds)
    (args.out / "report.md").write_text(text)
    plot_curves(rows, args.out / "curves.png")
    print(text)


if __name__ == "__main__":
    main()
