"""solverlayers.datasets.liars: the liar's puzzle data set and its split."""

from __future__ import annotations

import pytest
import torch

from solverlayers.datasets.liars import AGENTS, PHRASINGS, LiarsBatch, LiarsPuzzles, configurations

NAMES = [a.lower() for a in AGENTS]
EXONERATING = ("not", "innocent", "good")  # a verdict with one of these words calls its subject innocent


@pytest.fixture(scope="module")
def data() -> LiarsPuzzles:
    return LiarsPuzzles(seed=0)


def parse(data: LiarsPuzzles, tokens: torch.Tensor) -> tuple[int, int, bool]:
    """(speaker, subject, accuses) read off a sentence's words alone."""
    words = data.decode(tokens).split()
    names = [NAMES.index(w) for w in words if w in NAMES]
    assert len(names) == 2 and words[0] == NAMES[names[0]], words
    return names[0], names[1], not any(w in EXONERATING for w in words)


def consistent(statements: list[tuple[int, int, bool]]) -> list[int]:
    """Brute force: the guilty candidates under which exactly the guilty speaker lies."""
    return [g for g in range(3) if all((speaker != g) == (accuses == (subject == g))
                                       for speaker, subject, accuses in statements)]


def triples(data: LiarsPuzzles, batch: LiarsBatch) -> set[tuple[str, ...]]:
    return {tuple(data.decode(t) for t in instance) for instance in batch.tokens}


def test_counts_match_the_paper(data: LiarsPuzzles) -> None:
    configs = configurations()
    assert len(configs) == 24 and len(set(configs)) == 24
    assert len(configs) * PHRASINGS == 375_000  # the paper's count: canonical sentence order
    assert data.count("train") == 12 * PHRASINGS and data.count("test") == 12 * 6 * PHRASINGS
    assert sorted(configs[i].guilty for i, _ in data.ordered["train"]) == [0] * 4 + [1] * 4 + [2] * 4


def test_labels_and_symbols_agree_with_brute_force(data: LiarsPuzzles) -> None:
    gen = torch.Generator().manual_seed(5)
    for split in ("train", "test"):
        batch = data.sample(split, 400, gen)
        for i in range(len(batch)):
            statements = [parse(data, batch.tokens[i, s]) for s in range(3)]
            assert consistent(statements) == [int(batch.labels[i])]
            assert sorted(a for a, _, _ in statements) == [0, 1, 2]  # every agent speaks once
            for s, (speaker, subject, accuses) in enumerate(statements):
                expected = torch.zeros(7)
                expected[speaker], expected[3 + subject], expected[6] = 1, 1, float(accuses)
                assert torch.equal(batch.symbols[i, s], expected)


def test_every_configuration_has_a_unique_solution() -> None:
    for config in configurations():
        assert consistent(config.statements()) == [config.guilty]


def test_splits_are_disjoint_and_training_covers_every_sentence_symbol(data: LiarsPuzzles) -> None:
    train_cfg = [c for c, _ in data.ordered["train"]]
    test_cfg = {c for c, _ in data.ordered["test"]}
    assert len(set(train_cfg)) == 12 and not set(train_cfg) & test_cfg and len(test_cfg) == 12
    assert sorted(data.ordered["test"]) == [(c, o) for c in sorted(test_cfg) for o in range(6)]
    gen = torch.Generator().manual_seed(1)
    train, test = data.sample("train", 3000, gen), data.sample("test", 3000, gen)
    assert not triples(data, train) & triples(data, test)
    seen = {parse(data, t) for instance in train.tokens for t in instance}
    assert len(seen) == 12  # 3 speakers x 2 subjects x accuses or not: all learnable from training


def test_one_ordered_configuration_spans_every_phrasing(data: LiarsPuzzles) -> None:
    batch = data.instances("train", torch.arange(PHRASINGS))
    assert len(triples(data, batch)) == PHRASINGS
    assert len(set(batch.configs.tolist())) == 1 and len(set(batch.labels.tolist())) == 1
    assert data.decode(batch.tokens[0, 0]).endswith(".")


def test_deterministic_and_seeded() -> None:
    a, b = LiarsPuzzles(seed=0), LiarsPuzzles(seed=0)
    assert a.ordered == b.ordered and a.vocab == b.vocab
    x = a.sample("test", 50, torch.Generator().manual_seed(3))
    y = b.sample("test", 50, torch.Generator().manual_seed(3))
    assert torch.equal(x.tokens, y.tokens) and torch.equal(x.labels, y.labels)
    assert any(LiarsPuzzles(seed=s).ordered != a.ordered for s in (1, 2, 3))


def test_text_and_bad_input(data: LiarsPuzzles) -> None:
    text = data.sentence(0, 1, False, 3, 0)
    assert text == "Alice said that Bob did not do it."
    assert data.decode(torch.tensor(data.encode(text) + [0, 0])) == "alice said that bob did not do it ."
    with pytest.raises(ValueError, match="vocabulary"):
        data.encode("Dave did it")
    with pytest.raises(ValueError, match="split"):
        data.count("validation")
    with pytest.raises(IndexError, match=r"\[0, 187500\)"):
        data.instances("train", torch.tensor([187_500]))
