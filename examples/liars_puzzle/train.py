"""The liar's puzzle with SMTLayer (Fredrikson et al., ICML 2023, section 5.1 and appendix A.2).

Three sentences ("Alice said that Bob did not do it.") go one by one through a bidirectional
LSTM with a trainable embedding, whose dense head gives 7 symbol logits per sentence (speaker
and subject one-hot, accuses): 21 in all. Three heads turn them into the guilty party:

* conventional: a dense 512-unit layer (cross-entropy on the guilty party);
* SMTLayer: the paper's formula (equation 1) on the 21 symbols, guilty one-hot as output;
* SATNet: 24 variables, the 21 symbols given, the 3 guilty bits free.

The training sample holds half of the predicate configurations, each in one sentence order; the
test sample the other half in every order (:mod:`solverlayers.datasets.liars`). As in Table 2,
the conventional network trains 15 epochs (Adam 2e-3), and the solver heads train 5 epochs
(SMTLayer: Adam 1e-3, no clipping; SATNet: Adam 2e-3 on its clauses, 1e-5 on the encoder). The
paper's pre-training is exactly the conventional run, so SATNet starts from its encoder, and so
does SMTLayer with ``smt.pretrained = true`` (the default config starts it fresh: see README).

    python examples/liars_puzzle/train.py [--quick] [--set key=value ...] [--out DIR]

Writes ``results.json``, ``results.md`` and ``results.png`` to ``--out``. Targets: SMTLayer test
accuracy at least 86.1% (the paper's) and an SMTLayer epoch at most 2x a conventional one.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

import solverlayers as sl
from solverlayers.datasets.liars import SYMBOL_BITS, LiarsBatch, LiarsPuzzles
from solverlayers.layers import SATNet, SMTLayer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import save_results, solver_experiment_args  # noqa: E402

if TYPE_CHECKING:
    from matplotlib.figure import Figure

HERE = Path(__file__).parent
PAPER = {"conventional": (0.542, 3.1), "SMTLayer": (0.861, 28.7), "SATNet": (0.846, 3.0)}  # Table 1
Scores = Callable[[LiarsBatch], torch.Tensor]


# -- models ---------------------------------------------------------------------------------------

class SentenceEncoder(nn.Module):
    """Each sentence through embedding, 2-layer BiLSTM and a 128-unit dense layer to 7 logits;
    an instance's three sentences give ``(B, 21)``."""

    def __init__(self, vocab: int, embedding: int, hidden: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, embedding, padding_idx=0)
        self.lstm = nn.LSTM(embedding, hidden, num_layers=2, bidirectional=True, batch_first=True)
        self.head = nn.Sequential(nn.Linear(2 * hidden, 128), nn.ReLU(), nn.Linear(128, SYMBOL_BITS))

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        b, s, length = tokens.shape
        packed = nn.utils.rnn.pack_padded_sequence(self.embed(tokens.reshape(b * s, length)), lengths.reshape(-1),
                                                   batch_first=True, enforce_sorted=False)
        _, (h, _) = self.lstm(packed)
        return self.head(torch.cat([h[-2], h[-1]], dim=1)).reshape(b, s * SYMBOL_BITS)


class Puzzle(nn.Module):
    """The encoder's 21 symbol logits, then ``head`` to 3 guilty-party scores."""

    def __init__(self, encoder: SentenceEncoder, head: nn.Module) -> None:
        super().__init__()
        self.encoder, self.head = encoder, head

    def forward(self, batch: LiarsBatch) -> torch.Tensor:
        return self.head(self.encoder(batch.tokens, batch.lengths))


def dense_head() -> nn.Module:
    return nn.Sequential(nn.Linear(3 * SYMBOL_BITS, 512), nn.ReLU(), nn.Linear(512, 3))


def liar_formula(one_speaker_per_sentence: bool = True) -> tuple[list[sl.Term], list[sl.Term], list[sl.Term]]:
    """Equation 1 with agents and sentences unary: exactly one guilty agent, each agent speaks
    exactly one sentence and each sentence has exactly one speaker and one subject, and a speaker
    is honest (not guilty) iff the sentence's accusation matches its subject's guilt. Inputs per
    sentence: speaker[A, B, C], subject[A, B, C], accuses; outputs guilty[A, B, C]."""
    speaker = [[sl.Bool(f"speaker_{a}_{s}") for a in range(3)] for s in range(3)]
    subject = [[sl.Bool(f"subject_{a}_{s}") for a in range(3)] for s in range(3)]
    accuses = [sl.Bool(f"accuses_{s}") for s in range(3)]
    guilty = [sl.Bool(f"guilty_{a}") for a in range(3)]
    phi = [sl.Exactly(1, guilty)]
    phi += [sl.Exactly(1, [speaker[s][a] for s in range(3)]) for a in range(3)]
    phi += [sl.Exactly(1, speaker[s]) for s in range(3) if one_speaker_per_sentence]
    phi += [sl.Exactly(1, subject[s]) for s in range(3)]
    phi += [sl.Implies(sl.And(speaker[s][a1], subject[s][a2]),
                       sl.Iff(sl.Iff(sl.Not(guilty[a1]), accuses[s]), guilty[a2]))
            for s in range(3) for a1 in range(3) for a2 in range(3)]
    inputs = [v for s in range(3) for v in (*speaker[s], *subject[s], accuses[s])]
    return phi, inputs, guilty


def smt_head(backend: str, forward: str, sc: dict[str, Any]) -> SMTLayer:
    phi, z, y = liar_formula(sc["one_speaker_per_sentence"])
    return SMTLayer(phi, z, y, backend=backend, forward_mode=forward, gradient=sc["gradient"],
                    options=sc["options"].get(backend, {}), executor=sc["executor"], workers=sc["workers"],
                    table_bits=sc["table_bits"])


class SATNetHead(nn.Module):
    """SATNet over the 21 symbol probabilities (given) and 3 guilty bits (free): their probabilities."""

    def __init__(self, cfg: dict[str, Any], seed: int) -> None:
        super().__init__()
        n = 3 * SYMBOL_BITS + 3
        self.satnet = SATNet(n, cfg["m"], cfg["aux"], max_iter=cfg["max_iter"], backend=cfg["backend"],
                             generator=torch.Generator().manual_seed(seed))
        self.register_buffer("is_input", torch.arange(n) < 3 * SYMBOL_BITS)

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        z = torch.cat([torch.sigmoid(logits), logits.new_zeros(len(logits), 3)], dim=1)
        return self.satnet(z, self.is_input.expand(len(z), -1))[:, -3:]


# -- training -------------------------------------------------------------------------------------

def correct(method: str, scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """SMTLayer: the +-1 output is exactly the guilty party's one-hot; others: the argmax."""
    if method == "SMTLayer":
        return ((scores > 0) == nn.functional.one_hot(labels, 3).bool()).all(dim=1)
    return scores.argmax(dim=1) == labels


def loss_of(method: str, scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    target = nn.functional.one_hot(labels, 3).float()
    if method == "conventional":
        return nn.functional.cross_entropy(scores, labels)
    if method == "SMTLayer":  # the +-1 outputs as logits, as in the paper's code
        return nn.functional.binary_cross_entropy_with_logits(scores, target)
    return nn.functional.binary_cross_entropy(scores.clamp(1e-6, 1 - 1e-6), target)


@torch.no_grad()
def accuracy(method: str, model: Puzzle, test: list[LiarsBatch]) -> float:
    model.eval()
    hits = torch.cat([correct(method, model(b), b.labels) for b in test])
    model.train()
    return float(hits.float().mean())


@torch.no_grad()
def grounding(encoder: SentenceEncoder, test: list[LiarsBatch]) -> float:
    """Fraction of test sentences whose 7 logit signs are exactly their true symbols."""
    hits = [((encoder(b.tokens, b.lengths) > 0).reshape(-1, SYMBOL_BITS) == b.symbols.reshape(-1, SYMBOL_BITS).bool())
            .all(dim=1) for b in test]
    return float(torch.cat(hits).float().mean())


def fit(method: str, model: Puzzle, opt: torch.optim.Optimizer, batches: Callable[[int], list[LiarsBatch]],
        epochs: int, evaluate: Callable[[], float], label: str) -> tuple[list[float], list[float]]:
    """Train ``epochs`` epochs; (wall seconds of each epoch, test accuracy after each)."""
    times, curve = [], []
    for epoch in range(epochs):
        start = time.perf_counter()
        for batch in tqdm(batches(epoch), desc=f"{label} epoch {epoch + 1}/{epochs}", leave=False):
            opt.zero_grad()
            loss_of(method, model(batch), batch.labels).backward()
            opt.step()
        times.append(time.perf_counter() - start)
        curve.append(evaluate())
    return times, curve


def split_batches(batch: LiarsBatch, size: int) -> list[LiarsBatch]:
    fields = ("tokens", "lengths", "labels", "symbols", "configs", "orderings")
    return [LiarsBatch(**{f: getattr(batch, f)[i:i + size] for f in fields}) for i in range(0, len(batch), size)]


def run_seed(data: LiarsPuzzles, test: list[LiarsBatch], seed: int, cfg: dict[str, Any]) -> dict[str, Any]:
    tc, mc, sc, nc = cfg["train"], cfg["model"], cfg["smt"], cfg["satnet"]

    def batches(epoch: int) -> list[LiarsBatch]:
        gen = torch.Generator().manual_seed(seed * 1000 + epoch)
        return split_batches(data.sample("train", cfg["data"]["train_per_epoch"], gen), tc["batch_size"])

    def encoder() -> SentenceEncoder:
        return SentenceEncoder(len(data.vocab), mc["embedding"], mc["hidden"])

    torch.manual_seed(seed)
    conventional = Puzzle(encoder(), dense_head())
    conv_times, conv_curve = fit(
        "conventional", conventional, torch.optim.Adam(conventional.parameters(), tc["lr"]), batches,
        tc["conventional_epochs"], lambda: accuracy("conventional", conventional, test), f"seed {seed} conventional")
    result: dict[str, Any] = {
        "conventional": {"accuracy": conv_curve[-1], "epoch_s": conv_times, "curve": conv_curve,
                         "grounding": grounding(conventional.encoder, test)},
        "smt": {},
    }
    def train_smt(backend: str, pretrained: bool, label: str) -> dict[str, Any]:
        torch.manual_seed(seed)
        model = Puzzle(encoder(), smt_head(backend, sc["train_forward"], sc))
        if pretrained:
            model.encoder.load_state_dict(conventional.encoder.state_dict())
        test_model = Puzzle(model.encoder, smt_head(backend, sc["test_forward"], sc))
        curve_model = Puzzle(model.encoder, smt_head(backend, sc["curve_forward"], sc))
        times, curve = fit("SMTLayer", model, torch.optim.Adam(model.encoder.parameters(), sc["lr"]), batches,
                           sc["epochs"], lambda: accuracy("SMTLayer", curve_model, test), f"seed {seed} {label}")
        acc = accuracy("SMTLayer", test_model, test)
        print(f"seed {seed} {label}: accuracy {acc:.4f}, epoch {np.mean(times):.2f} s", flush=True)
        return {
            "accuracy": acc, "epoch_s": times, "curve": curve, "curve_forward": sc["curve_forward"],
            "train_stats": model.head.stats.as_dict(), "test_stats": test_model.head.stats.as_dict(),
            "grounding": grounding(model.encoder, test), "epoch_ratio": float(np.mean(times) / np.mean(conv_times)),
        }

    for backend in sc["backends"]:
        result["smt"][backend] = train_smt(backend, sc["pretrained"], f"SMTLayer ({backend})")
        if sc["paper_recipe"] and not sc["pretrained"]:
            result.setdefault("smt_paper", {})[backend] = train_smt(backend, True, f"SMTLayer ({backend}, paper recipe)")
    torch.manual_seed(seed)
    satnet = Puzzle(encoder(), SATNetHead(nc, seed))
    satnet.encoder.load_state_dict(conventional.encoder.state_dict())
    opt = torch.optim.Adam([{"params": satnet.head.parameters(), "lr": nc["lr"]},
                            {"params": satnet.encoder.parameters(), "lr": nc["encoder_lr"]}])
    sat_times, sat_curve = fit("SATNet", satnet, opt, batches, nc["epochs"], lambda: accuracy("SATNet", satnet, test),
                               f"seed {seed} SATNet")
    result["satnet"] = {"accuracy": sat_curve[-1], "epoch_s": sat_times, "curve": sat_curve,
                        "degenerate": satnet.head.satnet.degenerate_count}
    print(f"seed {seed}: conventional {conv_curve[-1]:.4f}, SATNet {sat_curve[-1]:.4f}", flush=True)
    return result


# -- reporting ------------------------------------------------------------------------------------

def method_runs(results: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Per summary method, its result in every seed."""
    seeds = list(results["seeds"].values())
    runs = {"conventional": [r["conventional"] for r in seeds]}
    for backend in results["config"]["smt"]["backends"]:
        runs[f"SMTLayer ({backend})"] = [r["smt"][backend] for r in seeds]
        if "smt_paper" in seeds[0]:
            runs[f"SMTLayer ({backend}, paper recipe)"] = [r["smt_paper"][backend] for r in seeds]
    runs["SATNet"] = [r["satnet"] for r in seeds]
    return runs


def summary_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    rows = {method: {"experiment": "liar's puzzle", "configuration": "", "method": method,
                     "accuracy": float(np.mean([r["accuracy"] for r in runs])),
                     "epoch_s": float(np.mean([np.mean(r["epoch_s"]) for r in runs])),
                     "curve": np.mean([r["curve"] for r in runs], axis=0).tolist(),
                     "note": f"mean of {len(runs)} seed(s)"}
            for method, runs in method_runs(results).items()}
    for backend in results["config"]["smt"]["backends"]:
        paper_recipe = rows.get(f"SMTLayer ({backend}, paper recipe)")
        if paper_recipe:
            paper_recipe["comparison"] = True
            rows[f"SMTLayer ({backend})"].update(
                target=paper_recipe["accuracy"],
                target_note="the paper's recipe on our split: SMTLayer from the conventional encoder")
    return list(rows.values())


def report(results: dict[str, Any]) -> str:
    conv_epoch = np.mean([np.mean(r["conventional"]["epoch_s"]) for r in results["seeds"].values()])
    sc = results["config"]["smt"]
    lines = [
        "# Liar's puzzle (SMTLayer paper, Table 1 row)", "",
        f"Training: {results['train_instances']:,} instances over {results['train_configs']} ordered configurations; "
        f"test: {results['test_size']} instances sampled from {results['test_instances']:,} over "
        f"{results['test_configs']} ordered configurations (disjoint predicate configurations). "
        f"Seeds: {', '.join(results['seeds'])}. SMTLayer: gradient {sc['gradient']}, "
        f"{'the conventional (pre-trained)' if sc['pretrained'] else 'a fresh'} encoder, accuracy with "
        f"F_{sc['test_forward']}. Epoch times in seconds on this machine; the paper's on an RTX 3080.", "",
        "| method | test accuracy (per seed) | epoch s | epoch / conventional | paper accuracy | paper epoch s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for method, runs in method_runs(results).items():
        acc = np.mean([r["accuracy"] for r in runs])
        epoch = np.mean([np.mean(r["epoch_s"]) for r in runs])
        paper = PAPER[method.split(" ")[0]]
        per_seed = ", ".join(f"{r['accuracy']:.3f}" for r in runs)
        lines.append(f"| {method} | {acc:.4f} ({per_seed}) | {epoch:.2f} | {epoch / conv_epoch:.2f} | "
                     f"{paper[0]:.3f} | {paper[1]} |")
    lines += ["", "Symbol grounding (test sentences whose 7 logit signs equal their true speaker, subject and "
              "accuses bits):", ""]
    for seed, r in results["seeds"].items():
        parts = [f"conventional encoder {r['conventional']['grounding']:.3f}"]
        parts += [f"after SMTLayer ({b}) {s['grounding']:.3f}" for b, s in r["smt"].items()]
        lines.append(f"- seed {seed}: " + ", ".join(parts))
    lines += ["", "SMTLayer per epoch (F_smt test accuracy; seconds):", ""]
    for seed, r in results["seeds"].items():
        for b, s in [*r["smt"].items(), *((f"{b}, paper recipe", s) for b, s in r.get("smt_paper", {}).items())]:
            epochs = ", ".join(f"{a:.3f} ({t:.1f} s)" for a, t in zip(s["curve"], s["epoch_s"]))
            relaxed = f"F_max relaxed {s['test_stats']['relaxed']} of {s['test_stats']['forward_examples']} test inputs"
            lines.append(f"- seed {seed}, {b}: {epochs}; {relaxed}")
    return "\n".join(lines) + "\n"


def plot(results: dict[str, Any]) -> "Figure":
    import matplotlib.pyplot as plt

    rows = {r["method"]: r for r in results["summary"]}
    conv = rows["conventional"]["curve"]
    fig, ax = plt.subplots(figsize=(6.5, 4.8))
    ax.plot(range(1, len(conv) + 1), conv, "o-", label="conventional")
    for method, row in rows.items():
        if method == "conventional":
            continue
        epochs = range(len(conv) + 1, len(conv) + len(row["curve"]) + 1)
        if method.startswith("SMTLayer"):
            line = ax.plot(epochs, row["curve"], "s-", label=f"{method}, F_smt after each epoch")[0]
            ax.plot(epochs[-1], row["accuracy"], "*", ms=12, c=line.get_color(), label=f"{method}, final F_max")
        else:
            ax.plot(epochs, row["curve"], "s-", label=method)
    for i, (name, (acc, _)) in enumerate(PAPER.items()):
        ax.axhline(acc, ls=":", lw=0.8, c="gray")
        ax.annotate(f"paper {name}", (1 + 5 * i, acc), fontsize=7, color="gray", va="bottom")
    ax.set(xlabel="epoch (the solver heads' epochs follow the conventional network's)", ylabel="test accuracy",
           ylim=(0, 1.02))
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, fontsize=7)
    return fig


def main(argv: list[str] | None = None) -> None:
    args = solver_experiment_args(__doc__, HERE, argv)
    cfg = args.cfg
    dc = cfg["data"]
    data = LiarsPuzzles(dc["split_seed"])
    test_gen = torch.Generator().manual_seed(dc["split_seed"] + 1)
    test = split_batches(data.sample("test", dc["test_size"], test_gen), 256)
    results: dict[str, Any] = {
        "config": cfg, "quick": args.quick, "train_instances": data.count("train"), "test_instances": data.count("test"),
        "train_configs": len(data.ordered["train"]), "test_configs": len(data.ordered["test"]),
        "test_size": dc["test_size"], "seeds": {},
    }
    for seed in cfg["train"]["seeds"]:
        results["seeds"][str(seed)] = run_seed(data, test, seed, cfg)
    results["summary"] = summary_rows(results)
    markdown = report(results)
    save_results(args.out, results, markdown, lambda: plot(results))
    print(markdown)
    print(json.dumps([{k: v for k, v in r.items() if k != "curve"} for r in results["summary"]]))


if __name__ == "__main__":
    main()
