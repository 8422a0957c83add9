"""The conformance kit run against every built-in backend (skipped with its name until registered)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

from solverlayers.testing import BackendConformance


class _BuiltIn(BackendConformance):
    skip_if_missing = True


class TestZ3(_BuiltIn):
    backend = "z3"


class TestCvc5(_BuiltIn):
    backend = "cvc5"


class TestPysat(_BuiltIn):
    backend = "pysat"


# -- the kit itself: it passes an honest backend and catches each kind of lie ---------------------

FAKES = '''
import threading

from solverlayers import BackendSpec, Capabilities, CoreKind, Theory, hookimpl
from solverlayers.results import CheckResult, Model, OptimizeResult, OptStatus, Status
from solverlayers.testing.reference import ReferenceSession


class Honest(ReferenceSession):
    """The reference, with timeouts kept by running each call in a daemon thread."""

    def _timed(self, call, timeout, expired):
        if timeout is None:
            return call()
        box = []
        worker = threading.Thread(target=lambda: box.append(call()), daemon=True)
        worker.start()
        worker.join(timeout)
        return box[0] if box else expired

    def check(self, assumptions=(), *, timeout=None, **kwargs):
        call = lambda: super(Honest, self).check(assumptions, **kwargs)
        return self._timed(call, timeout, CheckResult(Status.UNKNOWN, reason="timeout"))

    def optimize(self, soft, assumptions=(), *, timeout=None):
        call = lambda: super(Honest, self).optimize(soft, assumptions)
        return self._timed(call, timeout, OptimizeResult(OptStatus.UNKNOWN, reason="timeout"))


class FlippedModels(Honest):
    def check(self, assumptions=(), **kwargs):
        r = super().check(assumptions, **kwargs)
        if r.model is None:
            return r
        return CheckResult(r.status, model=Model({v: not x if isinstance(x, bool) else x for v, x in r.model.items()}))


class WholeCores(Honest):
    def check(self, assumptions=(), *, want_core=False, **kwargs):
        r = super().check(assumptions, want_core=want_core, **kwargs)
        return CheckResult(r.status, core=tuple(assumptions)) if r.core is not None else r


class FirstModelIsOptimal(Honest):
    def optimize(self, soft, assumptions=(), *, timeout=None):
        r = self.check(assumptions)
        if r.status is not Status.SAT:
            return OptimizeResult(OptStatus.UNSAT)
        cost = sum(s.weight for s in soft if not r.model.evaluate(s.term, default=False))
        return OptimizeResult(OptStatus.OPTIMAL, cost=cost, model=r.model)


class IgnoresTimeouts(Honest):
    def check(self, assumptions=(), *, timeout=None, **kwargs):
        return super().check(assumptions, **kwargs)


FINITE = frozenset({Theory.BOOL, Theory.BV})


def spec(name, session, theories=FINITE):
    caps = Capabilities(theories=theories, cores=CoreKind.MINIMAL, native_maxsmt=True)
    return BackendSpec(name, lambda options: session(), caps)


@hookimpl
def solverlayers_backends():
    return [
        spec("kit-honest", Honest),
        spec("kit-flipped-models", FlippedModels),
        spec("kit-whole-cores", WholeCores),
        spec("kit-first-model", FirstModelIsOptimal),
        spec("kit-no-timeouts", IgnoresTimeouts),
        spec("kit-claims-lia", Honest, FINITE | {Theory.LIA}),
    ]
'''

HEAVY = '''
import pysat  # a solver imported when the plugin is loaded: what the kit forbids
from solverlayers import BackendSpec, Capabilities, Theory, hookimpl
from solverlayers.testing.reference import ReferenceSession


@hookimpl
def solverlayers_backends():
    return [BackendSpec("kit-heavy-import", lambda options: ReferenceSession(),
                        Capabilities(theories=frozenset({Theory.BOOL})))]
'''

KIT_TESTS = '''
from hypothesis import Phase, settings

from solverlayers.testing import BackendConformance

# the same examples every run, so each lie is caught every time; no shrinking, which only costs time
settings.register_profile("no-shrink", phases=[Phase.generate], database=None, derandomize=True)
settings.load_profile("no-shrink")


class TestHonest(BackendConformance):
    backend = "kit-honest"


class TestFlippedModels(BackendConformance):
    backend = "kit-flipped-models"


class TestWholeCores(BackendConformance):
    backend = "kit-whole-cores"


class TestFirstModel(BackendConformance):
    backend = "kit-first-model"


class TestNoTimeouts(BackendConformance):
    backend = "kit-no-timeouts"
    timeout_limit = 5


class TestClaimsLia(BackendConformance):
    backend = "kit-claims-lia"


class TestHeavyImport(BackendConformance):
    backend = "kit-heavy-import"
'''

# each lie, and the kit test that must catch it
CAUGHT = {
    "TestFlippedModels": "test_models_and_verdicts[bool]",
    "TestWholeCores": "test_unsat_cores[bool]",
    "TestFirstModel": "test_maxsmt_optimum[int-weights-bool]",
    "TestNoTimeouts": "test_timeout_is_unknown",
    "TestClaimsLia": "test_declared_theory_is_accepted[lia]",
    "TestHeavyImport": "test_listing_imports_no_solver",
}


def test_kit_passes_an_honest_backend_and_catches_lies(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "slkit_fakes.py").write_text(FAKES)
    (site / "slkit_heavy.py").write_text(HEAVY)
    info = site / "slkit_fakes-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: slkit-fakes\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[solverlayers]\nkit-fakes = slkit_fakes\nkit-heavy = slkit_heavy\n")
    (tmp_path / "test_kit.py").write_text(KIT_TESTS)
    selection = ["test_kit.py::TestHonest", *(f"test_kit.py::{cls}::{test}" for cls, test in CAUGHT.items())]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    report = tmp_path / "report.xml"
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}", *selection],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    outcomes: dict[tuple[str, str], str] = {}
    for case in ElementTree.parse(report).iter("testcase"):
        kind = next((child.tag for child in case if child.tag in ("failure", "error", "skipped")), "passed")
        outcomes[case.get("classname", "").rsplit(".", 1)[-1], case.get("name", "")] = kind
    honest = {name: kind for (cls, name), kind in outcomes.items() if cls == "TestHonest"}
    assert honest and all(kind in ("passed", "skipped") for kind in honest.values()), honest
    assert honest["test_timeout_is_unknown"] == "passed" and honest["test_unsat_cores[bool]"] == "passed"
    for cls, test in CAUGHT.items():
        assert outcomes.get((cls, test)) == "failure", f"{cls}.{test}: {outcomes.get((cls, test))}"


def test_backend_option_selects_classes_and_feeds_the_fixture(tmp_path: Path) -> None:
    (tmp_path / "test_two.py").write_text(
        "from solverlayers.testing import BackendConformance\n\n"
        "class TestA(BackendConformance):\n    backend = 'alpha'\n\n"
        "class TestB(BackendConformance):\n    backend = 'beta'\n\n"
        "def test_unrelated(solverlayers_backend):\n    assert solverlayers_backend == 'beta'\n"
    )

    def pytest_run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--solverlayers-backend=beta", *args],
            cwd=tmp_path, capture_output=True, text=True, timeout=120,
        )

    done = pytest_run("--collect-only", "test_two.py")
    collected = [line for line in done.stdout.splitlines() if "::" in line]
    assert collected and all("TestB::" in line or "test_unrelated" in line for line in collected), done.stdout
    assert any("test_unrelated" in line for line in collected)
    fixture = pytest_run("test_two.py::test_unrelated")
    assert fixture.returncode == 0 and "1 passed" in fixture.stdout, fixture.stdout
