"""How much the liar's-puzzle training sample pins the symbol grounding down.

A *grounding* maps each of the 12 sentence symbols (speaker, subject != speaker, accuses) to
the 7 bits the network could emit for it (one-hot speaker, one-hot subject, accuses): a network
that reads every phrasing of a sentence the same way computes one. A grounding *fits* an ordered
configuration when, read through it, the formula of train.py admits that configuration's guilty
party and no other. This script enumerates, with a SAT backend, every grounding that fits all
training configurations and prints how many there are and the distribution of the share of test
configurations each one also fits (= the test accuracy of an SMTLayer model that learnt it).

    python examples/liars_puzzle/groundings.py [--split-seed 0] [--backend pysat]
"""

from __future__ import annotations

import argparse
from collections import Counter

import solverlayers as sl
from solverlayers.datasets.liars import ORDERINGS, LiarsPuzzles

SYMBOLS = [(a, s, acc) for a in range(3) for s in range(3) if s != a for acc in (False, True)]


def fits(speaker: list[list[sl.Term]], subject: list[list[sl.Term]], accuses: list[sl.Term],
         kinds: list[int], guilty: int) -> sl.Term:
    """The sentences ``kinds`` read through the grounding name exactly ``guilty`` (equation 1
    with unique speakers, as train.py's formula with its default settings)."""
    def consistent(g: int) -> sl.Term:
        return sl.And([sl.Iff(sl.Iff(sl.Not(speaker[k][g]), accuses[k]), subject[k][g]) for k in kinds])

    speakers = [sl.Exactly(1, [speaker[k][a] for k in kinds]) for a in range(3)]
    return sl.And(*speakers, consistent(guilty), *[sl.Not(consistent(h)) for h in range(3) if h != guilty])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--backend", default="pysat")
    args = parser.parse_args()
    data = LiarsPuzzles(args.split_seed)
    index = {sym: i for i, sym in enumerate(SYMBOLS)}
    speaker = [[sl.Bool(f"sp_{k}_{a}") for a in range(3)] for k in range(len(SYMBOLS))]
    subject = [[sl.Bool(f"sb_{k}_{a}") for a in range(3)] for k in range(len(SYMBOLS))]
    accuses = [sl.Bool(f"acc_{k}") for k in range(len(SYMBOLS))]
    bits = [v for k in range(len(SYMBOLS)) for v in (*speaker[k], *subject[k], accuses[k])]

    def ordered(split: str) -> list[tuple[list[int], int]]:
        out = []
        for c, o in data.ordered[split]:
            config = data.configurations[c]
            statements = config.statements()
            out.append(([index[statements[a]] for a in ORDERINGS[o]], config.guilty))
        return out

    rules = [sl.Exactly(1, v) for k in range(len(SYMBOLS)) for v in (speaker[k], subject[k])]
    train = sl.Solver(rules + [fits(speaker, subject, accuses, ks, g) for ks, g in ordered("train")], args.backend)
    test = sl.Solver(rules, args.backend)
    test_fits = [fits(speaker, subject, accuses, ks, g) for ks, g in ordered("test")]
    shares: Counter[float] = Counter()
    while (found := train.check(model_vars=bits)).status is sl.Status.SAT:
        grounding = [v if found.model[v] else sl.Not(v) for v in bits]
        hits = sum(test.check(grounding + [t]).status is sl.Status.SAT for t in test_fits)
        shares[round(hits / len(test_fits), 3)] += 1
        train.add(sl.Or([sl.Not(lit) for lit in grounding]))
    total = sum(shares.values())
    mean = sum(share * n for share, n in shares.items()) / total
    print(f"split seed {args.split_seed}: {total} groundings fit the {len(data.ordered['train'])} training "
          f"configurations; share of the {len(test_fits)} test configurations they fit: mean {mean:.3f}")
    for share, n in sorted(shares.items()):
        print(f"  {share:.3f}: {n}")


if __name__ == "__main__":
    main()
