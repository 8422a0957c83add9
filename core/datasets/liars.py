"""The liar's puzzle (Fredrikson et al., ICML 2023, section 5.1 and appendix A.2), generated.

Alice, Bob and Charlie each speak one sentence claiming that one of the other two is guilty or
innocent. Exactly one of them is guilty; the two innocent ones tell the truth and the guilty
one lies. The label is the guilty party. Example (label Charlie)::

    Alice said that Bob did not do it. Bob : Alice is definitely innocent. Charlie : Alice did it.

**Configurations.** A *predicate configuration* is the guilty party and the subject of each
agent's statement (3 x 2**3 = 24); whether a statement accuses its subject follows (true for the
innocent speakers, false for the guilty one). Every configuration has exactly one consistent
guilty party. Each sentence is phrased in one of 5 speaker forms times 5 verdict forms (the
paper's lists), so a configuration with its sentences in the canonical order (Alice, Bob,
Charlie) has 25**3 = 15,625 instances: 375,000 in all, the paper's count. The three sentences
may also come in any of their 3! orders (the paper's split speaks of a configuration's
orderings), giving 2,250,000 instances.

**Split** (appendix A.2: half of the configurations train, the other half test, and "one
ordering for each predicate configuration" remains for training, so that the training sample
does not fully specify the logic). The paper's random draw is not published; ours, from
``seed``: 4 configurations per guilty party train (12), re-drawn until every sentence symbol
(speaker, subject, accuses) occurs in training; each training configuration keeps one random
ordering (187,500 instances), each test configuration keeps all six (1,125,000). Every
phrasing occurs in both. The paper's first step, subsampling half of all instances, is left out:
instances are sampled per epoch (:meth:`LiarsPuzzles.sample`).
"""

from __future__ import annotations

import itertools
import random
import re
from dataclasses import dataclass

import torch

__all__ = ["AGENTS", "SPEAKER_FORMS", "VERDICT_FORMS", "Configuration", "LiarsBatch", "LiarsPuzzles", "configurations"]

AGENTS = ("Alice", "Bob", "Charlie")
SPEAKER_FORMS = ("{} says", "{} says that", "{} said", "{} said that", "{} :")
VERDICT_FORMS = (  # (accusing, exonerating)
    ("{} did it", "{} did not do it"),
    ("{} is guilty", "{} is innocent"),
    ("{} is definitely guilty", "{} is definitely innocent"),
    ("{} definitely did it", "{} definitely did not do it"),
    ("{} is the criminal", "{} is a good person"),
)
ORDERINGS = tuple(itertools.permutations(range(3)))  # speakers in sentence order
PHRASINGS = (len(SPEAKER_FORMS) * len(VERDICT_FORMS)) ** 3  # 15,625 per ordered configuration
SYMBOL_BITS = 7  # per sentence: speaker one-hot (3), subject one-hot (3), accuses (1)
SPLITS = ("train", "test")


@dataclass(frozen=True)
class Configuration:
    """The guilty party and ``subjects[a]``, whom agent ``a``'s statement is about."""

    guilty: int
    subjects: tuple[int, int, int]

    @property
    def accuses(self) -> tuple[bool, bool, bool]:
        """Whether agent ``a``'s statement calls its subject guilty (a lie iff ``a`` is guilty)."""
        said = [(s == self.guilty) != (a == self.guilty) for a, s in enumerate(self.subjects)]
        return said[0], said[1], said[2]

    def statements(self) -> list[tuple[int, int, bool]]:
        """``(speaker, subject, accuses)`` per agent, in canonical order."""
        return [(a, s, acc) for a, (s, acc) in enumerate(zip(self.subjects, self.accuses))]


def configurations() -> list[Configuration]:
    """All 24 predicate configurations, guilty party first, then subjects lexicographically."""
    choices = [[x for x in range(3) if x != a] for a in range(3)]
    return [Configuration(g, subs) for g in range(3) for subs in itertools.product(*choices)]  # type: ignore[arg-type]


@dataclass(frozen=True)
class LiarsBatch:
    """Instances: ``tokens`` (n, 3, L) ids (0 pads), ``lengths`` (n, 3), ``labels`` (n,) the guilty
    party, ``symbols`` (n, 3, 7) each sentence's true speaker/subject/accuses bits, ``configs``
    (n,) and ``orderings`` (n,) indices into :func:`configurations` and the 3! orders."""

    tokens: torch.Tensor
    lengths: torch.Tensor
    labels: torch.Tensor
    symbols: torch.Tensor
    configs: torch.Tensor
    orderings: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)


def tokenize(text: str) -> list[str]:
    """Lower-case words, with ``:`` and ``.`` as tokens of their own."""
    return re.findall(r"[a-z]+|[:.]", text.lower())


class LiarsPuzzles:
    """The data set, its split (``seed``), vocabulary and samplers (see the module docstring)."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.configurations = configurations()
        self.ordered = self._split(seed)  # split -> [(config index, ordering index)]
        words = sorted({w for a in AGENTS for form in SPEAKER_FORMS for w in tokenize(form.format(a))}
                       | {w for a in AGENTS for pair in VERDICT_FORMS for f in pair for w in tokenize(f.format(a))}
                       | {"."})
        self.vocab = {"<pad>": 0, **{w: i + 1 for i, w in enumerate(words)}}
        self.words = list(self.vocab)
        # every sentence: [speaker, subject, accuses, speaker form, verdict form] -> token ids
        texts = {key: self.sentence(*key) for key in itertools.product(
            range(3), range(3), (False, True), range(len(SPEAKER_FORMS)), range(len(VERDICT_FORMS)))}
        self.max_len = max(len(tokenize(t)) for t in texts.values())
        self._table = torch.zeros(3, 3, 2, len(SPEAKER_FORMS), len(VERDICT_FORMS), self.max_len, dtype=torch.long)
        self._lengths = torch.zeros(self._table.shape[:-1], dtype=torch.long)
        for (a, s, acc, sf, vf), text in texts.items():
            ids = self.encode(text)
            self._table[a, s, int(acc), sf, vf, :len(ids)] = torch.tensor(ids)
            self._lengths[a, s, int(acc), sf, vf] = len(ids)

    # -- text -----------------------------------------------------------------------------------
    @staticmethod
    def sentence(speaker: int, subject: int, accuses: bool, speaker_form: int, verdict_form: int) -> str:
        """One sentence, e.g. ``"Alice said that Bob did not do it."``."""
        verdict = VERDICT_FORMS[verdict_form][0 if accuses else 1].format(AGENTS[subject])
        return f"{SPEAKER_FORMS[speaker_form].format(AGENTS[speaker])} {verdict}."

    def encode(self, text: str) -> list[int]:
        try:
            return [self.vocab[w] for w in tokenize(text)]
        except KeyError as err:
            raise ValueError(f"word {err.args[0]!r} is not in the liar's puzzle vocabulary") from None

    def decode(self, ids: torch.Tensor) -> str:
        """Token ids of one sentence (pads dropped) back to space-separated words."""
        return " ".join(self.words[i] for i in ids.tolist() if i)

    # -- split ----------------------------------------------------------------------------------
    def _split(self, seed: int) -> dict[str, list[tuple[int, int]]]:
        rng = random.Random(seed)
        by_guilty = [[i for i, c in enumerate(self.configurations) if c.guilty == g] for g in range(3)]
        symbols = {(a, s, acc) for c in self.configurations for a, s, acc in c.statements()}
        while True:
            train = sorted(i for group in by_guilty for i in rng.sample(group, len(group) // 2))
            if {st for i in train for st in self.configurations[i].statements()} == symbols:
                break
        test = [i for i in range(len(self.configurations)) if i not in train]
        return {
            "train": [(i, rng.randrange(len(ORDERINGS))) for i in train],
            "test": [(i, o) for i in test for o in range(len(ORDERINGS))],
        }

    def count(self, split: str) -> int:
        """Instances in ``split`` (every phrasing of its ordered configurations)."""
        return len(self._ordered(split)) * PHRASINGS

    def _ordered(self, split: str) -> list[tuple[int, int]]:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
        return self.ordered[split]

    # -- instances ------------------------------------------------------------------------------
    def instances(self, split: str, index: torch.Tensor) -> LiarsBatch:
        """The instances of ``split`` at ``index`` (int64, each in ``[0, count(split))``): ordered
        configuration ``index // 15625``, then the phrasing digits of ``index % 15625``."""
        index = torch.as_tensor(index, dtype=torch.long)
        if index.numel() and (int(index.min()) < 0 or int(index.max()) >= self.count(split)):
            raise IndexError(f"instance indices must lie in [0, {self.count(split)}) for split {split!r}")
        ordered = torch.tensor(self._ordered(split), dtype=torch.long)[index // PHRASINGS]
        cfg, order = ordered[:, 0], ordered[:, 1]
        subjects = torch.tensor([c.subjects for c in self.configurations])[cfg]  # (n, agent)
        accuses = torch.tensor([c.accuses for c in self.configurations], dtype=torch.long)[cfg]
        speakers = torch.tensor(ORDERINGS)[order]  # (n, sentence)
        forms = (index % PHRASINGS)[:, None] // (25 ** torch.arange(3)) % 25  # (n, sentence)
        subj = subjects.gather(1, speakers)
        acc = accuses.gather(1, speakers)
        key = (speakers, subj, acc, forms // len(VERDICT_FORMS), forms % len(VERDICT_FORMS))
        eye = torch.eye(3)
        symbols = torch.cat([eye[speakers], eye[subj], acc[..., None].float()], dim=-1)
        labels = torch.tensor([c.guilty for c in self.configurations])[cfg]
        return LiarsBatch(self._table[key], self._lengths[key], labels, symbols, cfg, order)

    def sample(self, split: str, n: int, generator: torch.Generator | None = None) -> LiarsBatch:
        """``n`` instances of ``split`` drawn uniformly with replacement."""
        if n < 0:
            raise ValueError(f"n must be non-negative, got {n}")
        return self.instances(split, torch.randint(self.count(split), (n,), generator=generator))
