"""The ``solverlayers`` command: list the installed backends, solve DIMACS and SMT-LIB2 files.

::

    solverlayers backends
    solverlayers solve FILE [--backend NAME] [--timeout S] [--config FILE]

``solve`` chooses the backend by ``--backend``, else by configuration (``--config`` file,
``SOLVERLAYERS_CONFIG``, ``./solverlayers.toml``, ``SOLVERLAYERS_BACKEND``; see
:func:`solverlayers.config.resolve`), and answers by file type (``.gz``/``.bz2``/``.xz`` allowed):

* ``.cnf`` (SAT competition): ``s SATISFIABLE`` and ``v`` lines giving a literal for every
  variable ``1..NVARS``, ending in ``0``; or ``s UNSATISFIABLE``; or ``s UNKNOWN``.
* ``.wcnf``, old or 2022 format (MaxSAT Evaluation): ``o COST`` then ``s OPTIMUM FOUND``, or
  ``s SATISFIABLE`` for a model not proven optimal (at the timeout), then a single ``v`` line of
  ``0``/``1`` characters, the i-th the value of variable i (the Evaluation's convention since
  2022, used for both formats); or ``s UNSATISFIABLE``; or ``s UNKNOWN``.
* ``.smt2``: ``sat``, ``unsat`` or ``unknown``, like an SMT solver. The script is parsed by the
  chosen backend if it can parse SMT-LIB2, else by one that can, and solved by the chosen one.
  Soft constraints (``assert-soft``) are minimised: ``sat`` is followed by ``; cost C``.

Costs are exact: an integer when integral, else a finite decimal (``2.5``), else a fraction
(``1/3``). The reason for an unknown answer follows as a comment (``c ...`` or ``; ...``).

Exit codes: 10 satisfiable (also a MaxSAT model not proven optimal), 20 unsatisfiable,
30 optimum found, 0 unknown (and ``backends``), 1 malformed input (one line naming the file and
line, no traceback), 2 usage errors (bad arguments, unknown backend, bad configuration, missing
file, unknown file type, a backend unable to handle the file, two plugins claiming one backend
name), 3 the backend failed (:class:`~solverlayers.interfaces.BackendError`).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .capabilities import Requirements
from .config import ConfigError, resolve
from .descriptors import OptionError
from .interfaces import BackendError, CapabilityError
from .io import ClauseFile, DimacsWarning, ParseError, UnsupportedFormatError, format_exact, read_file
from .problem import Problem
from .registry import PluginConflictError, Registry, UnknownBackendError, default_registry
from .results import OptStatus, Status
from .solver import Solver

__all__ = ["main", "EXIT_SAT", "EXIT_UNSAT", "EXIT_OPTIMUM", "EXIT_UNKNOWN", "EXIT_MALFORMED",
           "EXIT_USAGE", "EXIT_BACKEND"]

EXIT_UNKNOWN = 0
EXIT_MALFORMED = 1
EXIT_USAGE = 2
EXIT_BACKEND = 3
EXIT_SAT = 10
EXIT_UNSAT = 20
EXIT_OPTIMUM = 30

PROG = "solverlayers"
_V_WIDTH = 80


class _Failure(Exception):
    """An error to report on one line, with its exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Logic solvers with swappable backends: list them, or solve a file."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("backends", help="list the installed backends and the plugins that failed to load")
    solve = commands.add_parser(
        "solve",
        help="solve a .cnf, .wcnf or .smt2 file",
        description="Solve a DIMACS CNF/WCNF or SMT-LIB2 file; exit 10 SAT, 20 UNSAT, 30 optimum, 0 unknown.",
    )
    solve.add_argument("file", metavar="FILE", help=".cnf, .wcnf or .smt2, optionally .gz/.bz2/.xz compressed")
    solve.add_argument("--backend", metavar="NAME", help="backend to solve with (default: from configuration)")
    solve.add_argument("--timeout", metavar="S", type=_positive_seconds, help="time limit in seconds")
    solve.add_argument("--config", metavar="FILE", help="TOML configuration file choosing backend and options")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on usage errors and --help
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        if args.command == "backends":
            return _backends(default_registry())
        if args.command == "solve":
            return _solve(args.file, args.backend, args.timeout, args.config)
        parser.print_usage(sys.stderr)
        print(f"{PROG}: error: choose a command: backends or solve", file=sys.stderr)
        return EXIT_USAGE
    except _Failure as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return exc.code
    except PluginConflictError as exc:  # an installation problem: two plugins claim one name
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


# -- backends ---------------------------------------------------------------------------------

def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return ["  ".join([*(c.ljust(w) for c, w in zip(r, widths)), r[-1]]).rstrip() for r in rows]


def _backends(registry: Registry) -> int:
    specs = registry.backends()  # before reading failures: a failing hook is recorded here
    rows = [("name", "version", "distribution", "capabilities")]
    rows += [(s.name, s.version, s.plugin_distribution or "-", s.capabilities.summary()) for s in specs.values()]
    for line in _table(rows):
        print(line)
    if not specs:
        print("(no backends installed: pip install 'solverlayers[solvers]')")
    print()
    print("plugins that failed to load:")
    for f in registry.failures:
        print(f"  {f.name} ({f.distribution}): {f.error}")
    if not registry.failures:
        print("  (none)")
    return 0


# -- solve ------------------------------------------------------------------------------------

def _solve(path: str, backend: str | None, timeout: float | None, config: str | None) -> int:
    try:
        name = resolve(backend, config_file=config).backend
        registry = default_registry()
        registry.get(name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DimacsWarning)  # printed below, once, in our format
            data = read_file(path)
    except (ConfigError, UnknownBackendError, UnsupportedFormatError) as exc:
        raise _Failure(str(exc), EXIT_USAGE) from None
    except ParseError as exc:
        raise _Failure(str(exc), EXIT_MALFORMED) from None
    except OSError as exc:
        raise _Failure(f"{exc.filename or path}: {exc.strerror or exc}", EXIT_USAGE) from None
    try:
        if isinstance(data, ClauseFile):
            for message in data.warnings:
                print(f"{PROG}: warning: {message}", file=sys.stderr)
            if data.kind == "cnf":
                return _solve_cnf(data, name, timeout, config)
            return _solve_wcnf(data, name, timeout, config)
        return _solve_smtlib(_parse_smtlib(registry, name, data, path), name, timeout, config)
    except (CapabilityError, OptionError, ConfigError) as exc:
        raise _Failure(str(exc), EXIT_USAGE) from None
    except BackendError as exc:
        raise _Failure(f"backend {name!r} failed: {exc}", EXIT_BACKEND) from None


def _parse_smtlib(registry: Registry, name: str, text: str, path: str) -> Problem:
    """``text`` parsed by backend ``name`` if it can parse SMT-LIB2, else by the first that can."""
    specs = [registry.get(name), *registry.backends().values()]
    parse = next((s.parse_smtlib for s in specs if s.parse_smtlib is not None), None)
    if parse is None:
        raise _Failure(
            f"{path}: no installed backend can parse SMT-LIB2; install one that can "
            "(pip install 'solverlayers[z3]')", EXIT_USAGE,
        )
    try:
        problem: Problem = parse(text)
    except CapabilityError:
        raise
    except Exception as exc:  # the parser's own error type is the backend's business
        message = " ".join(str(exc).split()) or type(exc).__name__
        raise _Failure(f"{path}: {message}", EXIT_MALFORMED) from None
    return problem


def _v_lines(tokens: list[str]) -> Iterator[str]:
    """``v`` lines holding ``tokens``, wrapped at 80 columns."""
    line = "v"
    for tok in tokens:
        if len(line) + 1 + len(tok) > _V_WIDTH and line != "v":
            yield line
            line = "v"
        line += " " + tok
    yield line


def _reason(prefix: str, reason: str | None) -> None:
    if reason:
        print(f"{prefix} {reason}")


def _solve_cnf(cf: ClauseFile, backend: str, timeout: float | None, config: str | None) -> int:
    with Solver(cf.problem, backend, config_file=config) as solver:
        result = solver.check(timeout=timeout, model_vars=cf.variables)
    if result.status is Status.SAT:
        model: Mapping[Any, Any] = result.model or {}
        print("s SATISFIABLE")
        lits = [str(i if model.get(v) else -i) for i, v in enumerate(cf.variables, 1)]
        for line in _v_lines([*lits, "0"]):
            print(line)
        return EXIT_SAT
    if result.status is Status.UNSAT:
        print("s UNSATISFIABLE")
        return EXIT_UNSAT
    print("s UNKNOWN")
    _reason("c", result.reason)
    return EXIT_UNKNOWN


def _solve_wcnf(cf: ClauseFile, backend: str, timeout: float | None, config: str | None) -> int:
    with Solver(cf.problem, backend, config_file=config, needs=Requirements(maxsmt=True)) as solver:
        result = solver.optimize(timeout=timeout)
    if result.status is OptStatus.UNSAT:
        print("s UNSATISFIABLE")
        return EXIT_UNSAT
    if result.status is OptStatus.UNKNOWN or result.model is None or result.cost is None:
        print("s UNKNOWN")
        _reason("c", result.reason)
        return EXIT_UNKNOWN
    model = result.model
    print(f"o {format_exact(result.cost)}")
    print("s OPTIMUM FOUND" if result.optimal else "s SATISFIABLE")
    print("v " + "".join("1" if model.get(v) else "0" for v in cf.variables))
    if not result.optimal:
        _reason("c", result.reason)
    return EXIT_OPTIMUM if result.optimal else EXIT_SAT


def _solve_smtlib(problem: Problem, backend: str, timeout: float | None, config: str | None) -> int:
    if not problem.soft:
        with Solver(problem, backend, config_file=config) as solver:
            checked = solver.check(timeout=timeout)
        print(checked.status.value)
        if checked.status is Status.UNKNOWN:
            _reason(";", checked.reason)
        return {Status.SAT: EXIT_SAT, Status.UNSAT: EXIT_UNSAT}.get(checked.status, EXIT_UNKNOWN)
    with Solver(problem, backend, config_file=config, needs=Requirements(maxsmt=True)) as solver:
        result = solver.optimize(timeout=timeout)
    if result.status is OptStatus.UNSAT:
        print("unsat")
        return EXIT_UNSAT
    if result.status is OptStatus.UNKNOWN or result.cost is None:
        print("unknown")
        _reason(";", result.reason)
        return EXIT_UNKNOWN
    print("sat")
    print(f"; cost {format_exact(result.cost)}" + ("" if result.optimal else " (not proven optimal)"))
    return EXIT_OPTIMUM if result.optimal else EXIT_SAT
