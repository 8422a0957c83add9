"""Learning with SAT (:mod:`solverlayers.learn`): minimal decision trees, binary neural networks
and chromatic numbers, each on pysat, z3 and cvc5 and checked against brute force."""

from __future__ import annotations

import itertools
from functools import lru_cache

import numpy as np
import pytest
import torch

import solverlayers as sl
from solverlayers.learn import BinaryNeuralNetwork, MinimalDecisionTree, NoFitError, chromatic_number
from solverlayers.learn.coloring import greedy_coloring, is_proper
from solverlayers.learn.decision_tree import TreeNode

BACKENDS = ("pysat", "z3", "cvc5")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name = request.param
    if name not in {spec.name for spec in sl.list_backends()}:
        pytest.skip(f"backend {name!r} is not registered")
    return name


# -- decision trees ---------------------------------------------------------------------------

def fewest_nodes(X: np.ndarray, y: np.ndarray) -> int:
    """Brute force: the fewest nodes of a tree that classifies ``X`` as ``y`` perfectly, by
    trying every feature at every inner node (repeats allowed) and every split of the inner-node
    budget between the subtrees; memoised on the subset of examples a node receives."""
    k = X.shape[1]

    @lru_cache(maxsize=None)
    def inner(rows: frozenset[int]) -> int:
        if len({int(y[r]) for r in rows}) <= 1:
            return 0
        best = 10**9
        for f in range(k):
            left = frozenset(r for r in rows if not X[r, f])
            if left and left != rows:
                best = min(best, 1 + inner(left) + inner(rows - left))
        return best

    return 2 * inner(frozenset(range(len(X)))) + 1


def check_tree(node: TreeNode, n_features: int) -> None:
    """A well-formed tree: leaves have labels 0/1, inner nodes a feature and two children."""
    if node.is_leaf:
        assert node.label in (0, 1) and node.left is None and node.right is None
    else:
        assert node.feature is not None and 0 <= node.feature < n_features
        assert node.left is not None and node.right is not None
        check_tree(node.left, n_features)
        check_tree(node.right, n_features)


CUBE3 = np.array(list(itertools.product((0, 1), repeat=3)))


def tree_datasets() -> list[tuple[str, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(5)
    sets = [
        ("xor", CUBE3[:, :2][::2], np.array([0, 1, 1, 0])),
        ("one-feature", CUBE3, CUBE3[:, 1].copy()),
        ("and-or", CUBE3, (CUBE3[:, 0] & CUBE3[:, 1]) | CUBE3[:, 2]),
        ("parity3", CUBE3, CUBE3.sum(axis=1) % 2),
        ("constant", CUBE3[:3], np.zeros(3, dtype=int)),
    ]
    for i in range(4):
        rows = rng.choice(8, size=int(rng.integers(4, 8)), replace=False)
        sets.append((f"random{i}", CUBE3[rows], rng.integers(0, 2, size=len(rows))))
    return sets


@pytest.mark.parametrize("name,X,y", tree_datasets(), ids=[d[0] for d in tree_datasets()])
def test_decision_tree_is_minimal_and_fits(backend: str, name: str, X: np.ndarray, y: np.ndarray) -> None:
    tree = MinimalDecisionTree.fit(X, y, backend=backend)
    check_tree(tree.root, X.shape[1])
    assert tree.n_nodes == fewest_nodes(X, y), tree.export_text()
    assert (tree.predict(X) == y).all()
    # the search went UNSAT -> SAT through every odd count from 3
    if tree.n_nodes > 1:
        assert [n for n, _, _ in tree.search] == list(range(3, tree.n_nodes + 1, 2))
        assert [sat for _, sat, _ in tree.search] == [False] * (len(tree.search) - 1) + [True]


def test_decision_tree_exports() -> None:
    X, y = CUBE3, (CUBE3[:, 0] & CUBE3[:, 1]) | CUBE3[:, 2]
    tree = MinimalDecisionTree.fit(X, y, backend="pysat", feature_names=["a", "b", "c"])
    as_dict = tree.to_dict()
    assert as_dict["n_nodes"] == tree.n_nodes == 7

    def rebuild(d: dict) -> TreeNode:
        if "label" in d:
            return TreeNode(label=d["label"])
        return TreeNode(feature=d["feature"], left=rebuild(d["left"]), right=rebuild(d["right"]))

    assert rebuild(as_dict["tree"]) == tree.root
    text = tree.export_text()
    assert text.splitlines()[0] in ("a = 0", "b = 0", "c = 0")
    assert text.count("class:") == 4 and text.count(" = 1") == 3 and "|   " in text


def test_decision_tree_rejects_what_no_tree_fits() -> None:
    with pytest.raises(NoFitError, match="both labels"):
        MinimalDecisionTree.fit([[0, 1], [0, 1]], [0, 1], backend="pysat")
    with pytest.raises(NoFitError, match="at most 5 nodes"):
        MinimalDecisionTree.fit(CUBE3, CUBE3.sum(axis=1) % 2, backend="pysat", max_nodes=5)
    with pytest.raises(ValueError, match="binary"):
        MinimalDecisionTree.fit([[0, 2]], [1], backend="pysat")


# -- binary neural networks -------------------------------------------------------------------

def planted(n: int, features: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.choice([-1, 1], size=(n, features))
    teacher = rng.choice([-1, 1], size=features)
    return X, np.where(X @ teacher >= 0, 1, -1)


def fewest_errors_one_layer(X: np.ndarray, y: np.ndarray) -> int:
    """Brute force over every +-1 weight vector."""
    return min(
        int((np.where(X @ np.array(w) >= 0, 1, -1) != y).sum())
        for w in itertools.product((-1, 1), repeat=X.shape[1])
    )


def assert_torch_agrees(net: BinaryNeuralNetwork, X: np.ndarray) -> None:
    module = net.to_torch()
    out = module(torch.tensor(X, dtype=torch.float32))
    assert out.shape == (len(X), 1)
    assert (out[:, 0].numpy() == net.predict(X)).all()


@pytest.mark.parametrize("encoding", ["seqcounter", "totalizer"])
def test_bnn_fits_separable_data_exactly(backend: str, encoding: str) -> None:
    X, y = planted(16, 5, seed=1)
    net = BinaryNeuralNetwork.fit(X, y, backend=backend, encoding=encoding)
    assert [w.shape for w in net.weights] == [(1, 5)]
    assert set(np.unique(net.weights[0])) <= {-1, 1}
    assert net.training_errors == 0 and (net.predict(X) == y).all()
    assert_torch_agrees(net, X)


def test_bnn_maxsat_allows_errors(backend: str) -> None:
    X, y = planted(14, 5, seed=2)
    y[[0, 3, 7]] *= -1
    best = fewest_errors_one_layer(X, y)
    assert best >= 1
    with pytest.raises(NoFitError):
        BinaryNeuralNetwork.fit(X, y, backend=backend)
    net = BinaryNeuralNetwork.fit(X, y, backend=backend, max_errors=3)
    assert net.training_errors == best <= 3  # MaxSAT finds the fewest errors
    assert int((net.predict(X) != y).sum()) == net.training_errors
    if best > 1:
        with pytest.raises(NoFitError, match=f"is {best}, more than max_errors={best - 1}"):
            BinaryNeuralNetwork.fit(X, y, backend=backend, max_errors=best - 1)


@pytest.mark.parametrize("hidden", [[2], [3, 3]], ids=str)
def test_bnn_hidden_layers_fit_what_one_layer_cannot(backend: str, hidden: list[int]) -> None:
    # XNOR of two inputs, with a constant input as the bias: no single +-1 neuron computes it
    X = np.array([[a, b, 1] for a in (-1, 1) for b in (-1, 1)])
    y = X[:, 0] * X[:, 1]
    assert fewest_errors_one_layer(X, y) > 0
    with pytest.raises(NoFitError):
        BinaryNeuralNetwork.fit(X, y, backend=backend)
    net = BinaryNeuralNetwork.fit(X, y, hidden=hidden, backend=backend)
    widths = [3, *hidden, 1]
    assert [w.shape for w in net.weights] == [(o, i) for i, o in zip(widths, widths[1:])]
    assert net.training_errors == 0 and (net.predict(X) == y).all()
    assert_torch_agrees(net, X)


def test_bnn_fits_a_planted_two_layer_network(backend: str) -> None:
    rng = np.random.default_rng(4)
    teacher = [rng.choice([-1, 1], size=(3, 5)), rng.choice([-1, 1], size=(1, 3))]
    X = rng.choice([-1, 1], size=(12, 5))
    y = BinaryNeuralNetwork(teacher).predict(X)
    net = BinaryNeuralNetwork.fit(X, y, hidden=[3], backend=backend, verify=True)
    assert net.training_errors == 0 and (net.predict(X) == y).all()


def test_bnn_rejects_bad_data() -> None:
    with pytest.raises(ValueError, match="-1 and 1"):
        BinaryNeuralNetwork.fit([[0, 1]], [1], backend="pysat")
    with pytest.raises(ValueError, match="layer widths"):
        BinaryNeuralNetwork.fit([[1, 1]], [1], hidden=[0], backend="pysat")


# -- graph colouring --------------------------------------------------------------------------

def cycle(n: int) -> list[tuple[int, int]]:
    return [(i, (i + 1) % n) for i in range(n)]


PETERSEN = cycle(5) + [(i, i + 5) for i in range(5)] + [(5 + i, 5 + (i + 2) % 5) for i in range(5)]
K4 = [(i, j) for i in range(4) for j in range(i)]
CROWN5 = [(2 * i, 2 * j + 1) for i in range(5) for j in range(5) if i != j]  # greedy needs 5
GRAPHS = {
    "C5": (cycle(5), 5, 3), "C7": (cycle(7), 7, 3), "C6": (cycle(6), 6, 2), "K4": (K4, 4, 4),
    "Petersen": (PETERSEN, 10, 3), "crown5": (CROWN5, 10, 2), "empty": ([], 3, 1), "none": ([], 0, 0),
}


def brute_chromatic(edges: list[tuple[int, int]], n: int) -> int:
    for c in range(1, n + 1):
        if any(is_proper(edges, list(col)) for col in itertools.product(range(c), repeat=n)):
            return c
    return 0


@pytest.mark.parametrize("name", list(GRAPHS))
def test_chromatic_number_of_known_graphs(backend: str, name: str) -> None:
    edges, n, want = GRAPHS[name]
    result = chromatic_number(edges, n, backend=backend)
    assert result.number == want
    assert len(result.coloring) == n and is_proper(edges, result.coloring)
    assert all(0 <= c < want for c in result.coloring)
    if want > (2 if edges else 1):  # above the trivial bound, the solver proved want - 1 too few
        assert (want - 1, False) in result.checks


def test_binary_search_improves_on_greedy(backend: str) -> None:
    assert max(greedy_coloring(CROWN5, 10)) + 1 == 5
    result = chromatic_number(CROWN5, 10, backend=backend, at_most=True)
    assert result.number == 2 and [c for c, _ in result.checks] == [3, 2]


def test_chromatic_number_matches_brute_force() -> None:
    rng = np.random.default_rng(3)
    for _ in range(8):
        n = int(rng.integers(3, 7))
        edges = [(i, j) for i in range(n) for j in range(i) if rng.random() < 0.5]
        result = chromatic_number(edges, n, backend="pysat")
        assert result.number == brute_chromatic(edges, n) and is_proper(edges, result.coloring)


def test_chromatic_number_rejects_bad_graphs() -> None:
    with pytest.raises(ValueError, match="self-loop"):
        chromatic_number([(1, 1)], 2, backend="pysat")
    with pytest.raises(ValueError, match="outside"):
        chromatic_number([(0, 5)], 2, backend="pysat")
