"""What every experiment script shares: TOML config with ``--set`` overrides, and the results
folder (``results.json`` with a ``summary`` the combined report reads, ``results.md``, a plot).

Experiment scripts put ``examples/`` on ``sys.path`` and import this module::

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from common import experiment_args, save_results

The ``summary`` rows are what ``examples/report.py`` tabulates: one dict per (configuration,
method) with keys ``experiment``, ``configuration``, ``method`` (for example ``"SMTLayer (z3)"``,
``"conventional"``, ``"SATNet"``), ``accuracy`` (test, in [0, 1]), ``epoch_s`` (mean seconds per
training epoch) and optionally ``curve`` (test accuracy after each epoch), ``note``, and for
solver-layer rows ``target`` (the accuracy to reach on our data, in [0, 1], where our data differ
from the paper's) with ``target_note`` (what that target is).
"""

from __future__ import annotations

import argparse
import json
import platform
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

SUMMARY_KEYS = ("experiment", "configuration", "method", "accuracy", "epoch_s")


def load_config(path: Path, overrides: Sequence[str] = (), quick: bool = False) -> dict[str, Any]:
    """The TOML file; with ``quick`` its ``[quick]`` table's keys replace the same keys wherever
    they occur; then each ``KEY=VALUE`` (a TOML value) replaces the key of that name."""
    cfg = tomllib.loads(Path(path).read_text())
    quick_table = cfg.pop("quick", {})
    items = [(k, v) for k, v in quick_table.items()] if quick else []
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--set {item!r}: write KEY=VALUE, for example --set epochs=3")
        try:
            items.append((key.strip(), tomllib.loads(f"v = {value}")["v"]))
        except tomllib.TOMLDecodeError:
            items.append((key.strip(), value))  # a bare word: take it as a string
    for key, value in items:
        sections = [s for s in cfg.values() if isinstance(s, dict) and key in s]
        if not sections:
            known = sorted({k for s in cfg.values() if isinstance(s, dict) for k in s})
            raise SystemExit(f"no config key {key!r} in {path}; choose one of: {', '.join(known)}")
        for section in sections:
            section[key] = value
    return cfg


def experiment_args(doc: str, here: Path, argv: Sequence[str] | None = None) -> argparse.Namespace:
    """``--config`` (default ``here/config.toml``), ``--set KEY=VALUE``, ``--quick``, ``--out``;
    the namespace carries the loaded ``cfg``."""
    parser = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    parser.add_argument("--config", type=Path, default=here / "config.toml")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key")
    parser.add_argument("--quick", action="store_true", help="the config's [quick] settings: a smoke run")
    parser.add_argument("--out", type=Path, default=here / "results")
    args = parser.parse_args(argv)
    args.cfg = load_config(args.config, args.set, args.quick)
    return args


def solver_experiment_args(doc: str, here: Path, argv: Sequence[str] | None = None) -> argparse.Namespace:
    """:func:`experiment_args`, plus what every solver-layer experiment sets: one torch thread
    (the models are small; more threads only contend for the cores) and ``SolverLayerWarning``
    silenced (UNSAT forwards are expected early in training; the layer counts them in its stats)."""
    import warnings

    import torch

    from solverlayers.layers import SolverLayerWarning

    args = experiment_args(doc, here, argv)
    warnings.simplefilter("ignore", SolverLayerWarning)
    torch.set_num_threads(1)
    return args


def keep_best(scores: Sequence[float]) -> tuple[int, list[dict[str, Any]]]:
    """Restarts: the index of the best training-distribution score (the first of equal ones) and
    the record results.json keeps of them."""
    kept = max(range(len(scores)), key=scores.__getitem__)
    return kept, [{"validation_accuracy": score, "kept": i == kept} for i, score in enumerate(scores)]


def restart_cells(record: Sequence[dict[str, Any]]) -> str:
    """``0.671, 0.550, **0.726**``: each restart's score, the kept one in bold."""
    return ", ".join(f"**{r['validation_accuracy']:.3f}**" if r["kept"] else f"{r['validation_accuracy']:.3f}"
                     for r in record)


def machine() -> str:
    """The hardware the timings come from, in words."""
    import os

    import torch

    cpu = platform.processor() or platform.machine()
    gpu = f", GPU {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ", no GPU"
    return f"{cpu}, {os.cpu_count()} CPU cores{gpu}, torch {torch.__version__}"


def save_results(out: Path, results: dict[str, Any], markdown: str,
                 plot: Callable[[], Figure] | None = None) -> None:
    """Write ``results.json`` (checked for a valid ``summary``), ``results.md`` and the figure
    ``plot()`` draws as ``results.png`` into ``out``."""
    for row in results.get("summary", []):
        missing = [k for k in SUMMARY_KEYS if k not in row]
        if missing:
            raise ValueError(f"summary row {row} lacks {', '.join(missing)}")
    results.setdefault("machine", machine())
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1))
    (out / "results.md").write_text(markdown)
    if plot is not None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig = plot()
        fig.tight_layout()
        fig.savefig(out / "results.png", dpi=120)
        plt.close(fig)



def digit_accuracy(make_model: Callable[[], Any], train: tuple[Any, Any], test: tuple[Any, Any], epochs: int,
                   batch_size: int, lr: float, seed: int) -> float:
    """Test accuracy of ``make_model()`` (built after seeding torch) trained on labelled single
    digits ``(images, labels)`` with Adam and cross-entropy: the reference digit accuracy ``a``."""
    import torch
    from tqdm import tqdm

    torch.manual_seed(seed)
    model = make_model()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    for _ in tqdm(range(epochs), desc="supervised single digits", leave=False):
        for idx in torch.randperm(len(train[1]), generator=gen).split(batch_size):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(train[0][idx]), train[1][idx]).backward()
            opt.step()
    with torch.no_grad():
        return float((model(test[0]).argmax(dim=1) == test[1]).float().mean())
