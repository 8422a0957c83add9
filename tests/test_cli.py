"""The command line: competition output and exit codes, with toy backends and with the real ones."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest

import solverlayers as sl
from solverlayers import registry as registry_module
from solverlayers.cli import main
from solverlayers.evaluate import evaluate, evaluate_many
from solverlayers.io import read_file

DATA = Path(__file__).resolve().parents[1] / "examples" / "data"
REAL_BACKENDS = ("z3", "cvc5", "pysat")
D1, D2 = sl.BitVec("d1", 4), sl.BitVec("d2", 4)


# -- toy backends: exhaustive search, so the CLI is tested whatever plugins are installed -----

class ToySession(sl.SolverSession):
    """Tries every assignment; ``mode`` "first" stops at the first model, "none" gives up,
    "crash" fails."""

    def __init__(self, options):
        self.mode = options["mode"]
        self.hard = []

    def add(self, *constraints):
        self.hard.extend(constraints)

    @staticmethod
    def assignments(terms, extra=()):
        """Every assignment to the variables of ``terms``; those only in ``extra`` are False."""
        found = sl.variables(terms)
        domains = [(False, True) if v.sort.is_bool else range(2**v.sort.width) for v in found]
        for values in itertools.product(*domains):
            yield {**dict.fromkeys(extra, False), **dict(zip(found, values))}

    def check(self, assumptions=(), *, timeout=None, want_core=False, model_vars=None):
        if self.mode == "crash":
            raise sl.BackendError("the toy solver crashed")
        if self.mode != "complete":
            return sl.CheckResult(sl.Status.UNKNOWN, reason="timeout")
        terms = [*self.hard, *assumptions]
        for m in self.assignments(terms, model_vars or ()):
            if all(evaluate_many(terms, m)):
                return sl.CheckResult(sl.Status.SAT, sl.Model(m))
        return sl.CheckResult(sl.Status.UNSAT)

    def optimize(self, soft, assumptions=(), *, timeout=None):
        if self.mode == "none":
            return sl.OptimizeResult(sl.OptStatus.UNKNOWN, reason="timeout")
        terms = [*self.hard, *assumptions]
        best = None
        for m in self.assignments([*terms, *(s.term for s in soft)]):
            if all(evaluate_many(terms, m)):
                cost = sum((s.weight for s in soft if not evaluate(s.term, m)), Fraction(0))
                if self.mode == "first":
                    return sl.OptimizeResult(sl.OptStatus.SATISFIABLE, cost, sl.Model(m), reason="timeout")
                if best is None or cost < best[0]:
                    best = (cost, m)
        if best is None:
            return sl.OptimizeResult(sl.OptStatus.UNSAT)
        return sl.OptimizeResult(sl.OptStatus.OPTIMAL, best[0], sl.Model(best[1]))


def toy_parse(text: str) -> sl.Problem:
    """Stands in for an SMT-LIB parser: the MNIST-addition example, or an error on 'oops'."""
    if "oops" in text:
        raise ValueError("line 2 column 3:\n   unexpected token")
    problem = sl.Problem([sl.ULE(D1, 9), sl.ULE(D2, 9), sl.Eq(sl.ZeroExt(1, D1) + sl.ZeroExt(1, D2), 15)])
    problem.add(sl.Eq(D1, 7))
    if "assert-soft" in text:
        problem.add_soft(sl.Eq(D2, 9), "1.5")
    return problem


MODE = sl.OptionSpec("mode", str, "complete", choices=("complete", "first", "none", "crash"))
TOY = sl.BackendSpec(
    "toy", ToySession, sl.Capabilities(frozenset({sl.Theory.BOOL, sl.Theory.BV}), native_maxsmt=True),
    options=(MODE,),
)
TOYPARSE = sl.BackendSpec(
    "toyparse", ToySession, sl.Capabilities(frozenset({sl.Theory.BOOL}), smtlib_parser=True),
    options=(MODE,), parse_smtlib=toy_parse,
)


class ToyPlugin:
    @sl.hookimpl
    def solverlayers_backends(self):
        return [TOY, TOYPARSE]


class OnlyToyPlugin:
    @sl.hookimpl
    def solverlayers_backends(self):
        return [TOY]


class BrokenPlugin:
    @sl.hookimpl
    def solverlayers_backends(self):
        raise RuntimeError("boom")


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No configuration from the environment or the working directory."""
    monkeypatch.delenv("SOLVERLAYERS_BACKEND", raising=False)
    monkeypatch.delenv("SOLVERLAYERS_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def toy(monkeypatch, clean_env):
    reg = registry_module.Registry(autoload=False)
    reg.register(ToyPlugin(), name="toy-plugin", distribution="toy-dist")
    monkeypatch.setattr(registry_module, "_default", reg)
    return reg


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def v_model(lines: list[str]) -> dict[str, bool]:
    """The model in SAT-competition ``v`` lines (which must end in 0)."""
    tokens = [t for line in lines if line.startswith("v ") for t in line.split()[1:]]
    assert tokens[-1] == "0" and all(len(line) <= 80 for line in lines if line.startswith("v"))
    return {f"x{abs(int(t))}": int(t) > 0 for t in tokens[:-1]}


def check_cnf_model(path: Path, lines: list[str]) -> None:
    cf = read_file(path)
    model = v_model(lines)
    assert sorted(model, key=lambda n: int(n[1:])) == [v.name for v in cf.variables]
    assert cf.problem.satisfied_by(model)


# -- toy backends -----------------------------------------------------------------------------

def test_cnf_sat_and_unsat(toy, capsys):
    code, out, err = run(capsys, "solve", str(DATA / "example.cnf"), "--backend", "toy")
    assert (code, out[0], err) == (10, "s SATISFIABLE", "")
    check_cnf_model(DATA / "example.cnf", out)
    assert run(capsys, "solve", str(DATA / "unsat.cnf"), "--backend", "toy") == (20, ["s UNSATISFIABLE"], "")


@pytest.mark.parametrize("name", ["example.wcnf", "example_old.wcnf"])
def test_wcnf_optimum(toy, capsys, name):
    code, out, _ = run(capsys, "solve", str(DATA / name), "--backend", "toy", "--timeout", "5")
    assert (code, out) == (30, ["o 7", "s OPTIMUM FOUND", "v 10010"])


def test_smtlib_parsed_by_a_capable_backend_and_solved_by_the_chosen_one(toy, capsys):
    assert run(capsys, "solve", str(DATA / "example.smt2"), "--backend", "toy") == (10, ["sat"], "")


def test_smtlib_soft_constraints_are_minimised_with_exact_cost(toy, capsys, tmp_path):
    path = tmp_path / "soft.smt2"
    path.write_text("(assert-soft (= d2 #x9) :weight 1.5)\n")
    assert run(capsys, "solve", str(path), "--backend", "toy") == (30, ["sat", "; cost 1.5"], "")


def test_decimal_cost_and_unused_variables_in_the_v_line(toy, capsys, tmp_path):
    path = tmp_path / "w.wcnf"
    path.write_text("p wcnf 4 2 10\n10 -1 0\n2.5 1 0\n")
    assert run(capsys, "solve", str(path), "--backend", "toy")[:2] == (30, ["o 2.5", "s OPTIMUM FOUND", "v 0000"])


def test_v_lines_wrap_at_80_columns(toy, capsys, tmp_path):
    path = tmp_path / "units.cnf"
    path.write_text("p cnf 40 2\n-40 0\n39 0\n")
    code, out, _ = run(capsys, "solve", str(path), "--backend", "toy")
    assert code == 10 and len(out) > 2
    check_cnf_model(path, out)


def test_config_file_chooses_backend_and_options(toy, capsys, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[solverlayers]\nbackend = "toy"\n[solverlayers.options.toy]\nmode = "first"\n')
    code, out, _ = run(capsys, "solve", str(DATA / "example.wcnf"), "--config", str(cfg))
    assert code == 10 and out[0].startswith("o ") and out[1] == "s SATISFIABLE" and out[2].startswith("v ")
    assert out[3] == "c timeout"
    cfg.write_text('[solverlayers]\nbackend = "nosuch"\n[solverlayers.options.toy]\nmode = "none"\n')
    args = ("--config", str(cfg), "--backend", "toy")
    assert run(capsys, "solve", str(DATA / "example.cnf"), *args) == (0, ["s UNKNOWN", "c timeout"], "")
    assert run(capsys, "solve", str(DATA / "example.wcnf"), *args) == (0, ["s UNKNOWN", "c timeout"], "")
    assert run(capsys, "solve", str(DATA / "example.smt2"), *args) == (0, ["unknown", "; timeout"], "")


def test_backend_failure_exits_3(toy, capsys, monkeypatch):
    monkeypatch.setenv("SOLVERLAYERS_BACKEND", "toy")
    (Path.cwd() / "solverlayers.toml").write_text('[solverlayers.options.toy]\nmode = "crash"\n')
    code, out, err = run(capsys, "solve", str(DATA / "example.cnf"))
    assert (code, out, err) == (3, [], "solverlayers: error: backend 'toy' failed: the toy solver crashed\n")


def test_clause_count_mismatch_warns_on_stderr_and_solves(toy, capsys, tmp_path):
    path = tmp_path / "w.cnf"
    path.write_text("p cnf 2 5\n1 2 0\n")
    code, _, err = run(capsys, "solve", str(path), "--backend", "toy")
    assert code == 10 and err == f"solverlayers: warning: {path}:1: the header declares 5 clauses but the file has 1\n"


@pytest.mark.parametrize(
    "name, text, where",
    [
        ("bad.cnf", "c\np cnf 3 2\n1 2 0\n1 two 0\n", ":4: bad token 'two': a literal is a nonzero integer"),
        ("bad.wcnf", "h 1 0\n0 2 0\n", ":2: weight 0 is not positive"),
        ("bad.smt2", "(assert oops)\n", ": line 2 column 3: unexpected token"),
    ],
)
def test_malformed_input_exits_1_with_one_line(toy, capsys, tmp_path, name, text, where):
    path = tmp_path / name
    path.write_text(text)
    code, out, err = run(capsys, "solve", str(path), "--backend", "toy")
    assert (code, out) == (1, [])
    assert err == f"solverlayers: error: {path}{where}\n"


def test_usage_errors_exit_2(toy, capsys, tmp_path):
    code, _, err = run(capsys, "solve", str(DATA / "example.cnf"), "--backend", "nosuch")
    assert code == 2 and "unknown backend 'nosuch'; choose one of: toy, toyparse" in err
    code, _, err = run(capsys, "solve", str(tmp_path / "missing.cnf"), "--backend", "toy")
    assert code == 2 and err == f"solverlayers: error: {tmp_path / 'missing.cnf'}: No such file or directory\n"
    (tmp_path / "a.txt").write_text("1 0\n")
    code, _, err = run(capsys, "solve", str(tmp_path / "a.txt"), "--backend", "toy")
    assert code == 2 and "unknown file type '.txt'" in err
    for timeout in ("-1", "0", "soon", "inf"):
        code, _, err = run(capsys, "solve", str(DATA / "example.cnf"), "--timeout", timeout)
        assert code == 2 and "positive number of seconds" in err
    assert run(capsys)[0] == 2
    assert run(capsys, "frobnicate")[0] == 2
    assert run(capsys, "--help")[0] == 0
    (tmp_path / "bad.toml").write_text("[solverlayers\n")
    code, _, err = run(capsys, "solve", str(DATA / "example.cnf"), "--config", str(tmp_path / "bad.toml"))
    assert code == 2 and "not valid TOML" in err
    (tmp_path / "opt.toml").write_text('[solverlayers.options.toy]\nmode = "bogus"\n')
    code, _, err = run(capsys, "solve", str(DATA / "example.cnf"), "--backend", "toy",
                       "--config", str(tmp_path / "opt.toml"))
    assert code == 2 and "mode" in err and "Traceback" not in err


def test_backend_lacking_a_capability_exits_2_naming_those_that_can(toy, capsys):
    code, _, err = run(capsys, "solve", str(DATA / "example.smt2"), "--backend", "toyparse")
    assert code == 2 and "lacks theory bv; backends that can: toy" in err
    code, _, err = run(capsys, "solve", str(DATA / "example.wcnf"), "--backend", "toyparse")
    assert code == 2 and "lacks MaxSMT" in err


def test_conflicting_plugins_exit_2(toy, capsys):
    toy.register(OnlyToyPlugin(), name="second-toy", distribution="other-dist")
    code, _, err = run(capsys, "backends")
    assert code == 2 and "'toy' is registered by both toy-dist and other-dist" in err


def test_no_smtlib_parser_installed(monkeypatch, clean_env, capsys):
    reg = registry_module.Registry(autoload=False)
    monkeypatch.setattr(registry_module, "_default", reg)
    reg.register(OnlyToyPlugin(), name="only-toy")
    code, _, err = run(capsys, "solve", str(DATA / "example.smt2"), "--backend", "toy")
    assert code == 2 and "no installed backend can parse SMT-LIB2" in err


def test_backends_table_and_failures(toy, capsys):
    toy.register(BrokenPlugin(), name="broken", distribution="broken-dist")
    code, out, _ = run(capsys, "backends")
    assert code == 0
    assert out[0].split() == ["name", "version", "distribution", "capabilities"]
    assert out[1].split() == ["toy", "-", "toy-dist", "bool,bv", "cores=none", "maxsmt", "incremental"]
    assert out[2].split()[:3] == ["toyparse", "-", "toy-dist"]
    assert out[1].index("toy-dist") == out[0].index("distribution")  # aligned columns
    assert out[4:] == ["plugins that failed to load:", "  broken (broken-dist): RuntimeError: boom"]


# -- real backends ----------------------------------------------------------------------------

EXPECTED = {
    "example.cnf": (10, "s SATISFIABLE"),
    "unsat.cnf": (20, "s UNSATISFIABLE"),
    "example.wcnf": (30, "o 7"),
    "example_old.wcnf": (30, "o 7"),
    "example.smt2": (10, "sat"),
}


def require(backend: str, smtlib: bool = False) -> None:
    backends = registry_module.default_registry().backends()
    if backend not in backends:
        pytest.skip(f"backend {backend!r} is not registered")
    if smtlib and not any(s.parse_smtlib for s in backends.values()):
        pytest.skip("no registered backend parses SMT-LIB2")


@pytest.mark.parametrize("name", sorted(EXPECTED))
@pytest.mark.parametrize("backend", REAL_BACKENDS)
def test_examples_with_real_backends(clean_env, capsys, backend, name):
    require(backend, smtlib=name.endswith(".smt2"))
    code, out, err = run(capsys, "solve", str(DATA / name), "--backend", backend, "--timeout", "60")
    assert (code, out[0]) == EXPECTED[name], err
    if name == "example.cnf":
        check_cnf_model(DATA / name, out)
    if name.endswith(".wcnf"):
        assert out == ["o 7", "s OPTIMUM FOUND", "v 10010"]


# -- as a program -----------------------------------------------------------------------------

def program(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOLVERLAYERS_")}
    return subprocess.run([sys.executable, *args], check=False, capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


def test_backends_command_imports_no_solver(clean_env):
    code = (
        "import sys; from solverlayers.cli import main; rc = main(['backends']); "
        "print('LOADED', [m for m in ('z3', 'cvc5', 'pysat', 'torch') if m in sys.modules]); sys.exit(rc)"
    )
    done = program("-c", code, cwd=clean_env)
    assert done.returncode == 0, done.stderr
    assert "plugins that failed to load:" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "LOADED []"


def test_python_dash_m_backends_and_usage(clean_env):
    done = program("-m", "solverlayers", "backends", cwd=clean_env)
    assert done.returncode == 0 and done.stdout.startswith("name ")
    assert program("-m", "solverlayers", cwd=clean_env).returncode == 2


@pytest.mark.parametrize("backend", REAL_BACKENDS)
def test_python_dash_m_solves(clean_env, backend):
    require(backend)
    done = program("-m", "solverlayers", "solve", str(DATA / "example.cnf"), "--backend", backend, cwd=clean_env)
    assert done.returncode == 10, done.stderr
    check_cnf_model(DATA / "example.cnf", done.stdout.splitlines())


def test_python_dash_m_malformed_and_unknown_backend(clean_env):
    bad = clean_env / "bad.cnf"
    bad.write_text("p cnf 2 1\n1 -3 0\n")
    done = program("-m", "solverlayers", "solve", str(bad), cwd=clean_env)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == f"solverlayers: error: {bad}:2: literal -3 is out of range: the header declares 2 variables\n"
    done = program("-m", "solverlayers", "solve", str(DATA / "example.cnf"), "--backend", "nosuch", cwd=clean_env)
    available = ", ".join(registry_module.default_registry().backends()) or "(none installed)"
    assert done.returncode == 2 and f"unknown backend 'nosuch'; choose one of: {available}" in done.stderr


def test_console_script(clean_env):
    script = Path(sys.executable).with_name("solverlayers")
    if not script.exists():
        pytest.skip("the solverlayers console script is not installed (pip install -e .)")
    done = subprocess.run([str(script), "solve", str(DATA / "unsat.cnf"), "--backend", "nosuch"],
                          check=False, capture_output=True, text=True, cwd=clean_env)
    assert done.returncode == 2 and "unknown backend 'nosuch'" in done.stderr
