"""Visual Sudoku with SMTLayer, SATNet and a conventional network (Fredrikson et al., ICML 2023, section 5).

Each puzzle's given cells show a digit image (training images for training boards, held-out images
for test boards); blank cells show an empty image. Every method reads the images with the same
small CNN and is scored on whole boards: a board counts only when all 81 cells are right.

* SMTLayer: the CNN gives 4 logits per given cell (the digit's 4-bit code, least significant bit
  first). The layer's formula is Sudoku over 81 4-bit cells (each in 1..9, Distinct in every row,
  column and box); its inputs are the cells' 324 code bits, given per board by a mask, plus 81
  always-given flags "this cell is a given". Its outputs are the solution's code bits at blank
  cells, constant 0 at given ones, so the loss (BCE on the blank cells' bits) never supervises a
  given cell directly: the CNN learns the digits only through the solver (no label leakage). Training
  uses F_smt; the test uses F_max on the same formula with the whole board as output (the
  relaxed givens and the solved blanks). Before it, the CNN is pre-trained without labels:
  k-means clusters of the training boards' cell images, distilled into the CNN (Topan et al. 2021).
* SATNet: the pre-trained CNN's softmax over 9 classes feeds the given cells' 9 one-hot positions
  of ``SATNet(729, 600, 300, leak_free=True)``; the loss covers the blank cells only.
* conventional: the CNN's 4 logits per cell (an empty image for blanks) into a dense 512-unit
  hidden layer and 729 outputs (the one-hot solution), trained on every cell.

    python examples/visual_sudoku/train.py [--config config.toml] [--set KEY=VALUE ...] [--quick] [--out DIR]

Writes ``results.json`` (summary rows: accuracy, seconds per epoch, per-epoch test curve),
``results.md`` and ``results.png`` to ``--out`` (default ``results/`` beside this script).
Targets (issue 6): SMTLayer at or above the paper (66.0% at 10%, 79.1% at 100%) with an epoch at
most 2x a conventional epoch.
"""

from __future__ import annotations

import copy
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from tqdm import tqdm

import solverlayers as sl
from solverlayers.datasets import load_digit_images
from solverlayers.datasets.sudoku import load_sudoku, one_hot
from solverlayers.layers import SATNet, SMTLayer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import machine, save_results, solver_experiment_args  # noqa: E402

if TYPE_CHECKING:
    from matplotlib.figure import Figure

HERE = Path(__file__).parent
EXPERIMENT = "visual Sudoku"
BITS = torch.arange(4)
# The paper's Table 1 and its protocol: boards (10% / 50% / 100% of 9,000) and solver-layer epochs.
PAPER = {10: {"SMTLayer": (66.0, 135.7), "SATNet": (0.0, 9.9), "conventional": (0.0, 6.3)},
         50: {"SMTLayer": (73.1, 608.1), "SATNet": (0.0, 45.4), "conventional": (0.0, 28.3)},
         100: {"SMTLayer": (79.1, 1199.0), "SATNet": (63.2, 86.5), "conventional": (0.0, 26.7)}}
PAPER_EPOCHS = {"SMTLayer": {10: 15, 50: 5, 100: 5}, "SATNet": {10: 100, 50: 100, 100: 100},
                "conventional": {10: 100, 50: 100, 100: 100}}
GROUPS = ([[r * 9 + c for c in range(9)] for r in range(9)] + [[r * 9 + c for r in range(9)] for c in range(9)]
          + [[(br * 3 + i) * 9 + bc * 3 + j for i in range(3) for j in range(3)] for br in range(3) for bc in range(3)])


# -- data -----------------------------------------------------------------------------------------

@dataclass
class Boards:
    """Puzzles (n, 81), 0 = blank; solutions (n, 81) in 1..9; the image shown in each cell
    (n, 81), an index into ``pool`` or -1 for an empty image."""

    puzzles: torch.Tensor
    solutions: torch.Tensor
    cells: torch.Tensor
    pool: torch.Tensor

    def __len__(self) -> int:
        return len(self.puzzles)

    def take(self, idx: torch.Tensor | slice) -> Boards:
        return Boards(self.puzzles[idx], self.solutions[idx], self.cells[idx], self.pool)

    @property
    def given(self) -> torch.Tensor:
        return self.puzzles > 0


def render(puzzles: np.ndarray, solutions: np.ndarray, images: tuple[torch.Tensor, torch.Tensor],
           gen: torch.Generator) -> Boards:
    """Each given cell shows a random image of its digit from ``images`` (drawn once)."""
    pool, labels = images
    p = torch.from_numpy(puzzles.reshape(len(puzzles), 81).astype(np.int64))
    cells = torch.full_like(p, -1)
    for d in range(1, 10):
        where = p == d
        choices = (labels == d).nonzero().squeeze(1)
        if len(choices) == 0:
            raise ValueError(f"no image of digit {d} to draw from")
        cells[where] = choices[torch.randint(len(choices), (int(where.sum()),), generator=gen)]
    return Boards(p, torch.from_numpy(solutions.reshape(len(solutions), 81).astype(np.int64)), cells, pool)


def load_data(cfg: dict[str, Any]) -> tuple[Boards, Boards]:
    """(training boards, test boards): the first ``train_boards`` generated puzzles
    train, the last ``test_boards`` test, as in the SATNet split."""
    seed = cfg["seed"]
    train_images, test_images = load_digit_images(cfg["mnist_dir"] or None, test_fraction=cfg["test_fraction"],
                                                  seed=seed)
    n_train, n_test = cfg["train_boards"], cfg["test_boards"]
    puzzles, solutions = load_sudoku(n_train + n_test, givens=cfg["givens"], seed=seed,
                                     cache_dir=cfg["cache_dir"] or None, progress=True)
    gen = torch.Generator().manual_seed(seed)
    train = render(puzzles[:n_train], solutions[:n_train], train_images, gen)
    test = render(puzzles[n_train:], solutions[n_train:], test_images, gen)
    return train, test


def code_bits(digits: torch.Tensor) -> torch.Tensor:
    """Digits (...,) to their 4-bit codes (..., 4), least significant bit first, as floats."""
    return ((digits[..., None] >> BITS) & 1).float()


# -- models ---------------------------------------------------------------------------------------

class Encoder(nn.Module):
    """The digit CNN (as in examples/mnist_addition): an image to ``out`` logits."""

    def __init__(self, out: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
            nn.AdaptiveMaxPool2d(4), nn.Flatten(), nn.Linear(64 * 16, 128), nn.ReLU(),
        )
        self.head = nn.Linear(128, out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def cell_logits(encoder: Encoder, boards: Boards, blank: bool) -> torch.Tensor:
    """(n, 81, out): the CNN on every given cell's image; blank cells get the CNN's output on an
    empty image (``blank``), or zeros."""
    flat = boards.cells.reshape(-1)
    shown = (flat >= 0).nonzero().squeeze(1)
    logits = encoder(boards.pool[flat[shown]])
    if blank:
        fill = encoder(torch.zeros_like(boards.pool[:1])).expand(len(flat), logits.shape[1])
    else:
        fill = logits.new_zeros(len(flat), logits.shape[1])
    return fill.index_put((shown,), logits).reshape(len(boards), 81, -1)


def sudoku_formula(flags: bool) -> tuple[list[sl.Term], list[sl.Term], list[sl.Term]]:
    """Sudoku over 4-bit cells ``s_c`` in 1..9, Distinct in every row, column and box; input
    ``z_{c,b}`` is bit ``b`` of ``s_c``. With ``flags``: 81 more inputs ``g_c`` (cell c is a given)
    and outputs ``y_{c,b} = z_{c,b} and not g_c`` (the solution at blanks, 0 at givens); without:
    the outputs are the ``z`` themselves, the whole board."""
    cells = [sl.BitVec(f"s{c}", 4) for c in range(81)]
    z = [sl.Bool(f"z{c}_{b}") for c in range(81) for b in range(4)]
    phi = [sl.ULE(sl.BitVecVal(1, 4), s) for s in cells] + [sl.ULE(s, 9) for s in cells]
    phi += [sl.Distinct(*(cells[c] for c in group)) for group in GROUPS]
    phi += [sl.Eq(z[4 * c + b], sl.Eq(sl.Extract(b, b, cells[c]), 1)) for c in range(81) for b in range(4)]
    if not flags:
        return phi, z, z
    g = [sl.Bool(f"g{c}") for c in range(81)]
    y = [sl.Bool(f"y{c}_{b}") for c in range(81) for b in range(4)]
    phi += [sl.Eq(y[4 * c + b], sl.And(z[4 * c + b], sl.Not(g[c]))) for c in range(81) for b in range(4)]
    return phi, z + g, y


def smt_layer(backend: str, train: bool, sc: dict[str, Any]) -> SMTLayer:
    """The training layer (F_smt, flags, blank cells out) or the test layer (F_max, whole board out)."""
    phi, inputs, outputs = sudoku_formula(flags=train)
    return SMTLayer(phi, inputs, outputs, backend=backend, forward_mode="smt" if train else "max",
                    gradient=sc["gradient"], executor=sc["executor" if train else "test_executor"],
                    workers=sc["workers"],
                    timeout=sc["timeout"] if train else sc["test_timeout"])


def smt_inputs(encoder: Encoder, boards: Boards) -> tuple[torch.Tensor, torch.Tensor]:
    """The training layer's logits (n, 405) and mask: code bits of given cells, then the flags."""
    given = boards.given
    codes = cell_logits(encoder, boards, blank=False).reshape(len(boards), 324)
    flags = given.float() * 2 - 1
    mask = torch.cat([given.repeat_interleave(4, 1), torch.ones_like(given)], dim=1)
    return torch.cat([codes, flags], dim=1), mask


class Conventional(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = Encoder(4)
        self.head = nn.Sequential(nn.Linear(324, 512), nn.ReLU(), nn.Linear(512, 729))

    def forward(self, boards: Boards) -> torch.Tensor:
        return self.head(cell_logits(self.encoder, boards, blank=True).reshape(len(boards), 324))


class SATNetSudoku(nn.Module):
    """CNN softmax over digits 1..9 at the given cells, SATNet for the rest."""

    def __init__(self, encoder: Encoder, sc: dict[str, Any], seed: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.sat = SATNet(729, 600, 300, backend=sc["satnet_backend"], leak_free=True,
                          generator=torch.Generator().manual_seed(seed))

    def forward(self, boards: Boards) -> torch.Tensor:
        given = boards.given.repeat_interleave(9, 1)
        probs = cell_logits(self.encoder, boards, blank=False).softmax(-1).reshape(len(boards), 729)
        return self.sat(torch.where(given, probs, 0.0), given)


# -- training -------------------------------------------------------------------------------------

def batches(n: int, size: int, seed: int) -> list[torch.Tensor]:
    return list(torch.randperm(n, generator=torch.Generator().manual_seed(seed)).split(size))


def scores(predicted: torch.Tensor, boards: Boards) -> dict[str, float]:
    """Share of boards whose 81 predicted digits all equal the solution (``accuracy``), and of
    cells (``cell_accuracy``)."""
    right = predicted.reshape(len(boards), 81) == boards.solutions
    return {"accuracy": float(right.all(1).float().mean()), "cell_accuracy": float(right.float().mean())}


def pretrain(train: Boards, pc: dict[str, Any], seed: int) -> tuple[Encoder, float]:
    """Unsupervised pre-training: k-means on the training boards' cell images (no labels), the
    CNN trained to predict the cluster. Returns it and the clusters' purity (for the record)."""
    from sklearn.cluster import KMeans

    shown = torch.unique(train.cells[train.cells >= 0])
    images = train.pool[shown]
    kmeans = KMeans(pc["clusters"], n_init=10, random_state=seed).fit(images.reshape(len(images), -1).numpy())
    clusters = torch.from_numpy(kmeans.labels_.astype(np.int64))
    digits = torch.tensor([int(train.solutions[train.cells == i][0]) for i in shown.tolist()])
    purity = sum(int(torch.bincount(digits[clusters == k]).max()) for k in clusters.unique().tolist()) / len(shown)
    torch.manual_seed(seed)
    encoder = Encoder(pc["clusters"])
    opt = torch.optim.Adam(encoder.parameters(), lr=pc["pretrain_lr"])
    for epoch in tqdm(range(pc["pretrain_epochs"]), desc="unsupervised pre-training", leave=False):
        for idx in batches(len(images), pc["pretrain_batch"], seed + epoch):
            opt.zero_grad()
            F.cross_entropy(encoder(images[idx]), clusters[idx]).backward()
            opt.step()
    return encoder, purity


@torch.no_grad()
def smt_test(encoder: Encoder, layer: SMTLayer, test: Boards) -> dict[str, float]:
    """Board accuracy with F_max; the CNN's digit accuracy on the given test cells (decoded codes)."""
    logits, mask = smt_inputs(encoder, test)
    y = layer(logits[:, :324], mask[:, :324])
    digits = ((y.reshape(len(test), 81, 4) > 0).long() << BITS).sum(-1)
    read = ((logits[:, :324].reshape(len(test), 81, 4) > 0).long() << BITS).sum(-1)
    given = test.given
    return {**scores(digits, test), "digit_accuracy": float((read[given] == test.solutions[given]).float().mean())}


def train_smt(backend: str, encoder0: Encoder, train: Boards, test: Boards, epochs: int, cfg: dict[str, Any],
              seed: int, label: str) -> dict[str, Any]:
    sc = cfg["smt"]
    torch.manual_seed(seed)
    encoder = Encoder(4)
    encoder.features.load_state_dict(encoder0.features.state_dict())
    layer, test_layer = smt_layer(backend, True, sc), smt_layer(backend, False, sc)
    opt = torch.optim.Adam(encoder.parameters(), lr=sc["smt_lr"])
    target = code_bits(train.solutions).reshape(len(train), 324)
    weight = (~train.given).repeat_interleave(4, 1).float()
    times, curve, digit_curve = [], [], []
    for epoch in range(epochs):
        start = time.perf_counter()
        bar = tqdm(batches(len(train), sc["smt_batch"], seed + epoch), desc=f"{label} epoch {epoch + 1}/{epochs}",
                   leave=False)
        for idx in bar:
            logits, mask = smt_inputs(encoder, train.take(idx))
            y = layer(logits, mask)
            loss = F.binary_cross_entropy_with_logits(y, target[idx], weight=weight[idx])
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(encoder.parameters(), sc["clip"])
            opt.step()
        times.append(time.perf_counter() - start)
        scores = smt_test(encoder, test_layer, test.take(slice(0, sc["curve_boards"])))
        curve.append(scores["accuracy"])
        digit_curve.append(scores["digit_accuracy"])
        tqdm.write(f"{label} epoch {epoch + 1}: {times[-1]:.1f} s, first {sc['curve_boards']} test boards "
                   f"{curve[-1]:.3f}, digits {digit_curve[-1]:.4f}, {layer.stats.as_dict()}")
    final = smt_test(encoder, test_layer, test)
    return {**final, "epoch_s": times, "curve": curve, "digit_curve": digit_curve,
            "train_stats": layer.stats.as_dict(), "test_stats": test_layer.stats.as_dict()}


def train_conventional(train: Boards, test: Boards, cc: dict[str, Any], seed: int, label: str) -> dict[str, Any]:
    torch.manual_seed(seed)
    model = Conventional()
    opt = torch.optim.Adam(model.parameters(), lr=cc["conventional_lr"])
    target = one_hot(train.solutions.reshape(-1, 9, 9))
    times, curve = [], []
    for epoch in tqdm(range(cc["conventional_epochs"]), desc=f"{label}", leave=False):
        start = time.perf_counter()
        for idx in batches(len(train), cc["conventional_batch"], seed + epoch):
            opt.zero_grad()
            F.binary_cross_entropy_with_logits(model(train.take(idx)), target[idx]).backward()
            opt.step()
        times.append(time.perf_counter() - start)
        with torch.no_grad():
            final = scores(model(test).reshape(-1, 81, 9).argmax(-1) + 1, test)
        curve.append(final["accuracy"])
    return {**final, "epoch_s": times, "curve": curve}


def train_satnet(encoder0: Encoder, train: Boards, test: Boards, sc: dict[str, Any], seed: int,
                 label: str) -> dict[str, Any]:
    """Adam on the clause matrix and (slowly) the CNN; each epoch trains on ``satnet_boards`` boards
    of the split, and its time is scaled to the whole split."""
    model = SATNetSudoku(copy.deepcopy(encoder0), sc, seed)
    opt = torch.optim.Adam([{"params": model.sat.parameters(), "lr": sc["satnet_lr"]},
                            {"params": model.encoder.parameters(), "lr": sc["satnet_cnn_lr"]}])
    target = one_hot(train.solutions.reshape(-1, 9, 9))
    weight = (~train.given).repeat_interleave(9, 1).float()
    times, curve = [], []
    for epoch in range(sc["satnet_epochs"]):
        subset = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed + epoch))[:sc["satnet_boards"]]
        start = time.perf_counter()
        for idx in tqdm(subset.split(sc["satnet_batch"]), desc=f"{label} epoch {epoch + 1}", leave=False):
            opt.zero_grad()
            out = model(train.take(idx)).clamp(1e-6, 1 - 1e-6)
            F.binary_cross_entropy(out, target[idx], weight=weight[idx]).backward()
            opt.step()
        times.append((time.perf_counter() - start) * len(train) / len(subset))
        with torch.no_grad():
            out = torch.cat([model(test.take(slice(i, i + sc["satnet_batch"])))
                             for i in range(0, len(test), sc["satnet_batch"])])
        final = scores(out.reshape(-1, 81, 9).argmax(-1) + 1, test)
        curve.append(final["accuracy"])
    return {**final, "epoch_s": times, "curve": curve, "boards_per_epoch": len(subset),
            "degenerate_items": model.sat.degenerate_count}


def run_split(percent: int, epochs: int, train_all: Boards, test: Boards, cfg: dict[str, Any]) -> dict[str, Any]:
    seed = cfg["data"]["seed"]
    train = train_all.take(slice(0, max(1, round(len(train_all) * percent / 100))))
    label = f"{percent}%"
    result: dict[str, Any] = {"boards": len(train), "conventional": train_conventional(
        train, test, cfg["conventional"], seed, f"{label} conventional")}
    encoder, purity = pretrain(train, cfg["pretrain"], seed)
    result["cluster_purity"] = purity
    result["smt"] = {b: train_smt(b, encoder, train, test, epochs, cfg, seed, f"{label} SMTLayer ({b})")
                     for b in cfg["smt"]["backends"]}
    result["satnet"] = train_satnet(encoder, train, test, cfg["satnet"], seed, f"{label} SATNet")
    return result


# -- reporting ------------------------------------------------------------------------------------

def projection(method: str, percent: int, epoch_s: float, boards: int) -> float:
    """Hours for the paper's protocol (its boards and epochs) at this run's seconds per board."""
    return epoch_s / boards * 9000 * percent / 100 * PAPER_EPOCHS[method][percent] / 3600


def summary(results: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for key, r in results["splits"].items():
        percent, n = int(key), r["boards"]
        methods = [("conventional", "conventional", r["conventional"])]
        methods += [(f"SMTLayer ({b})", "SMTLayer", s) for b, s in r["smt"].items()]
        methods += [("SATNet", "SATNet", r["satnet"])]
        for name, kind, s in methods:
            epoch_s = float(np.mean(s["epoch_s"]))
            note = (f"{n} training boards; the paper's protocol ({PAPER_EPOCHS[kind][percent]} epochs of "
                    f"{90 * percent} boards) would take {projection(kind, percent, epoch_s, n):.1f} h here")
            if kind == "SATNet":
                note += f"; trained on {s['boards_per_epoch']} boards per epoch, time scaled to {n}"
            if kind == "SMTLayer":
                note += (f"; epochs {s['epoch_s'][0]:.1f} s first, {s['epoch_s'][-1]:.1f} s last (memoised solver "
                         f"answers); digit accuracy {s['digit_accuracy']:.3f}")
            rows.append({"experiment": EXPERIMENT, "configuration": f"{percent}%", "method": name,
                         "accuracy": s["accuracy"], "epoch_s": epoch_s, "curve": s["curve"], "note": note,
                         "cell_accuracy": s["cell_accuracy"]})
    return rows


def markdown(results: dict[str, Any]) -> str:
    d = results["config"]["data"]
    lines = [f"# Visual Sudoku ({results['data']})", "",
             f"{d['train_boards']} training boards at 100% (the paper: 9,000), {d['test_boards']} test boards, "
             f"{d['givens']} givens each; accuracy = boards with all 81 cells right. Machine: {results['machine']}; "
             f"load average at the start {results['load_start']}, at the end {results['load_end']}.", "",
             "| split | method | test boards | paper | test cells | s / epoch | paper s / epoch | SMT / conv. epoch | "
             "paper protocol here (h) |", "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for row in results["summary"]:
        percent = int(row["configuration"].rstrip("%"))
        kind = row["method"].split(" ")[0]
        conv = next(r["epoch_s"] for r in results["summary"]
                    if r["configuration"] == row["configuration"] and r["method"] == "conventional")
        ratio = f"{row['epoch_s'] / conv:.1f}" if kind == "SMTLayer" else ""
        paper_acc, paper_s = PAPER[percent][kind]
        n = results["splits"][str(percent)]["boards"]
        lines.append(f"| {row['configuration']} | {row['method']} | {row['accuracy']:.3f} | {paper_acc / 100:.3f} | "
                     f"{row['cell_accuracy']:.3f} | {row['epoch_s']:.1f} | {paper_s} | {ratio} | "
                     f"{projection(kind, percent, row['epoch_s'], n):.1f} |")
    lines += ["", "SMTLayer details (digit accuracy: the CNN's decoded 4-bit codes on the given test cells):", "",
              "| split | backend | cluster purity | digit acc. | epochs | first / mean / last epoch (s) | "
              f"curve (first {results['config']['smt']['curve_boards']} test boards) |", "|---:|---|---:|---:|---:|---:|---|"]
    for key, r in results["splits"].items():
        for b, s in r["smt"].items():
            lines.append(f"| {key}% | {b} | {r['cluster_purity']:.3f} | {s['digit_accuracy']:.4f} | {len(s['curve'])} | "
                         f"{s['epoch_s'][0]:.1f} / {np.mean(s['epoch_s']):.1f} / {s['epoch_s'][-1]:.1f} | "
                         f"{' '.join(f'{a:.2f}' for a in s['curve'])} |")
    return "\n".join(lines) + "\n"


def plot(results: dict[str, Any]) -> "Figure":
    import matplotlib.pyplot as plt

    fig, (ax, ax_curve) = plt.subplots(1, 2, figsize=(11, 4))
    splits = [int(k) for k in results["splits"]]
    smt = f"SMTLayer ({results['config']['smt']['backends'][0]})"
    for method, name, marker in (("conventional", "conventional", "o"), ("SMTLayer", smt, "s"), ("SATNet", "SATNet", "^")):
        rows = [r for r in results["summary"] if r["method"] == name]
        line, = ax.plot(splits, [r["accuracy"] for r in rows], f"{marker}-", label=f"{name} (here)")
        ax.plot(splits, [PAPER[p][method][0] / 100 for p in splits], f"{marker}--", color=line.get_color(), alpha=0.5,
                label=f"{method} (paper)")
    ax.set(xlabel="% of the training boards", ylabel="test boards fully correct", ylim=(-0.02, 1.02), xticks=splits)
    ax.legend(fontsize=8)
    for key, r in results["splits"].items():
        for b, s in r["smt"].items():
            ax_curve.plot(range(1, len(s["curve"]) + 1), s["curve"], "o-", label=f"{key}% SMTLayer ({b})")
    ax_curve.set(xlabel="SMTLayer epoch", ylabel="test boards fully correct", ylim=(-0.02, 1.02))
    ax_curve.legend(fontsize=8)
    return fig


def main(argv: list[str] | None = None) -> None:
    args = solver_experiment_args(__doc__, HERE, argv)
    cfg = args.cfg
    splits, epochs = cfg["data"]["splits"], cfg["smt"]["smt_epochs"]
    if len(epochs) != len(splits):
        raise SystemExit(f"smt_epochs {epochs} needs one entry per split {splits}")
    started = time.perf_counter()
    results: dict[str, Any] = {
        "config": cfg, "quick": args.quick, "load_start": os.getloadavg()[0],
        "data": f"MNIST from {cfg['data']['mnist_dir']}" if cfg["data"]["mnist_dir"] else "scikit-learn 8x8 digits",
    }
    train, test = load_data(cfg["data"])
    results["splits"] = {str(p): run_split(p, e, train, test, cfg) for p, e in zip(splits, epochs)}
    results.update(summary=None, wall_s=time.perf_counter() - started, load_end=os.getloadavg()[0],
                   machine=machine())
    results["summary"] = summary(results)
    text = markdown(results)
    save_results(args.out, results, text, lambda: plot(results))
    print(text)


if __name__ == "__main__":
    main()
