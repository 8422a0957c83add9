"""Parity with single-bit supervision (Wang et al. 2019, section 4.1) with the SATNet layer.

One ``SATNet(3, m=4, aux=4, prox_lam=0.1)`` is applied recurrently along a bit string: step ``t``
reads the previous step's rounded output and bit ``t`` and produces the next output; only the
final (soft) output is supervised, with binary cross-entropy against the parity, so the gradient
reaches the shared clause matrix through the last step only (as in the official experiment).
SGD (the official script's default; the paper says Adam: ``--optimizer adam``), lr 0.1, batch 100,
9,000 training and 1,000 test strings. ::

    python examples/satnet_parity.py --length 20 --epochs 20 --backend satnet-cpu --out results.json
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch
from solverlayers.layers import SATNet
from torch import nn
from tqdm import tqdm


class RecurrentParity(nn.Module):
    """``(B, L)`` bits -> ``(B,)`` probability that the parity is 1."""

    def __init__(self, backend: str, generator: torch.Generator) -> None:
        super().__init__()
        self.sat = SATNet(3, m=4, aux=4, prox_lam=0.1, backend=backend, generator=generator)

    def forward(self, bits: torch.Tensor) -> torch.Tensor:
        B = bits.shape[0]
        is_input = torch.tensor([[1, 1, 0]], dtype=torch.int32).expand(B, 3)
        state = bits[:, 0]
        for t in range(1, bits.shape[1]):
            if t > 1:
                state = (state.detach() > 0.5).to(bits.dtype)
            z = torch.stack([state, bits[:, t], torch.zeros_like(state)], dim=1)
            state = self.sat(z, is_input)[:, 2]
        return state


def accuracy(model: RecurrentParity, bits: torch.Tensor, labels: torch.Tensor, batch: int) -> float:
    with torch.no_grad():
        preds = torch.cat([model(bits[i:i + batch]) for i in range(0, len(bits), batch)])
    return float(((preds > 0.5).float() == labels).float().mean())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--length", type=int, default=20)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--optimizer", choices=("sgd", "adam"), default="sgd")
    p.add_argument("--train", type=int, default=9000)
    p.add_argument("--test", type=int, default=1000)
    p.add_argument("--backend", default="satnet-cpu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads; the problem is tiny, so one thread avoids parallel-region overheads")
    p.add_argument("--out", default="results.json")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(args.seed)
    bits = torch.randint(0, 2, (args.train + args.test, args.length), generator=g).float()
    labels = bits.sum(1).remainder(2)
    train_x, train_y = bits[:args.train], labels[:args.train]
    test_x, test_y = bits[args.train:], labels[args.train:]
    model = RecurrentParity(args.backend, g)
    optim = torch.optim.SGD if args.optimizer == "sgd" else torch.optim.Adam
    opt = optim(model.parameters(), lr=args.lr)
    history = []
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        perm = torch.randperm(args.train, generator=g)
        losses = []
        bar = tqdm(range(0, args.train, args.batch), desc=f"epoch {epoch}", leave=False)
        for i in bar:
            idx = perm[i:i + args.batch]
            loss = nn.functional.binary_cross_entropy(model(train_x[idx]), train_y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
            bar.set_postfix(loss=f"{losses[-1]:.3f}")
        record = {"epoch": epoch, "train_loss": sum(losses) / len(losses),
                  "train_acc": accuracy(model, train_x, train_y, args.batch),
                  "test_acc": accuracy(model, test_x, test_y, args.batch),
                  "seconds": time.perf_counter() - start}
        history.append(record)
        tqdm.write(json.dumps(record))
    result = {"task": "parity", **vars(args), "final_test_acc": history[-1]["test_acc"],
              "best_test_acc": max(r["test_acc"] for r in history), "history": history,
              "machine": f"{platform.machine()} {platform.python_version()} torch {torch.__version__}"}
    with open(args.out, "w") as fh:
        json.dump(result, fh, indent=2)
    print(f"test accuracy {result['final_test_acc']:.3f} (best {result['best_test_acc']:.3f}); wrote {args.out}")


if __name__ == "__main__":
    main()
