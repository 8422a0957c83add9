"""The plugin registry and configuration: forgiving loading, conflicts, errors, and safe config."""

from __future__ import annotations

import itertools
import json
import logging
import subprocess
import sys
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from solverlayers import BackendSpec, Bool, Capabilities, Int, OptionSpec, Solver, Theory, hookimpl
from solverlayers.config import ENV_BACKEND, ENV_CONFIG, ConfigError, resolve
from solverlayers.descriptors import OptionError
from solverlayers.interfaces import CapabilityError, SolverSession
from solverlayers.registry import (
    AUTOLOAD_ENV,
    PluginConflictError,
    Registry,
    UnknownBackendError,
)
from solverlayers.results import CheckResult, Status

SOLVER_MODULES = ("z3", "cvc5", "pysat", "ortools")
_unique = itertools.count()


# -- fakes --------------------------------------------------------------------------------------

class _Session(SolverSession):
    """A session that answers SAT with an empty model (enough to open a Solver)."""

    def add(self, *constraints: Any) -> None:
        pass

    def check(self, assumptions: Sequence[Any] = (), *, timeout: float | None = None,
              want_core: bool = False, model_vars: Sequence[Any] | None = None) -> CheckResult:
        return CheckResult(Status.SAT)


class _Plugin:
    """A runtime plugin providing one Bool backend that records the options it was opened with."""

    def __init__(self, name: str, options: tuple[OptionSpec, ...] = ()) -> None:
        self.name = name
        self.options = options
        self.opened: list[Mapping[str, Any]] = []

    def _open(self, options: Mapping[str, Any]) -> _Session:
        self.opened.append(dict(options))
        return _Session()

    @hookimpl
    def solverlayers_backends(self) -> list[BackendSpec]:
        caps = Capabilities(theories=frozenset({Theory.BOOL}))
        return [BackendSpec(self.name, self._open, caps, options=self.options)]


class _Exploding:
    @hookimpl
    def solverlayers_backends(self) -> list[BackendSpec]:
        raise RuntimeError("hook exploded")


GOOD_PLUGIN = """
from solverlayers import BackendSpec, Capabilities, Theory, hookimpl

def _open(options):
    raise AssertionError("these tests never open the backend")

@hookimpl
def solverlayers_backends():
    return [BackendSpec("{backend}", _open, Capabilities(theories=frozenset({{Theory.BOOL}})))]
"""
IMPORT_FAILS = 'raise ImportError("the fake solver library is missing")\n'
HOOK_FAILS = """
from solverlayers import hookimpl

@hookimpl
def solverlayers_backends():
    raise RuntimeError("hook exploded")
"""


def make_distribution(root: Path, dist: str, plugins: Mapping[str, str]) -> dict[str, str]:
    """Write modules and a ``<dist>.dist-info`` with one ``solverlayers`` entry point per module
    into ``root``; returns entry-point name -> module name (unique per call)."""
    root.mkdir(exist_ok=True)
    suffix = next(_unique)
    modules = {ep: f"slfake_{ep.replace('-', '_')}_{suffix}" for ep in plugins}
    for ep, source in plugins.items():
        (root / f"{modules[ep]}.py").write_text(source)
    info = root / f"{dist.replace('-', '_')}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    lines = "".join(f"{ep} = {module}\n" for ep, module in modules.items())
    (info / "entry_points.txt").write_text(f"[solverlayers]\n{lines}")
    return modules


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh directory on sys.path for fake distributions."""
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.delenv(AUTOLOAD_ENV, raising=False)
    return root


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No config from the environment or the working directory."""
    monkeypatch.delenv(ENV_BACKEND, raising=False)
    monkeypatch.delenv(ENV_CONFIG, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def installed_backends() -> set[str]:
    return set(Registry().backends())


def builtin_backends() -> set[str]:
    """Backends of the solverlayers distribution itself."""
    return {n for n, s in Registry().backends().items() if s.plugin_distribution == "solverlayers"}


# -- loading ------------------------------------------------------------------------------------

def test_broken_entry_points_are_logged_recorded_and_skipped(site: Path, caplog: pytest.LogCaptureFixture) -> None:
    before = installed_backends()
    make_distribution(site, "fake-plugins", {
        "fake-good": GOOD_PLUGIN.format(backend="fake-good"),
        "fake-noimport": IMPORT_FAILS,
        "fake-badhook": HOOK_FAILS,
    })
    with caplog.at_level(logging.WARNING, logger="solverlayers"):
        registry = Registry()
        names = set(registry.backends())
    assert names == before | {"fake-good"}
    failures = {f.name: f for f in registry.failures}
    assert set(failures) == {"fake-noimport", "fake-badhook"}
    assert failures["fake-noimport"].distribution == "fake-plugins"
    assert "ImportError" in failures["fake-noimport"].error and "library is missing" in failures["fake-noimport"].error
    assert "RuntimeError" in failures["fake-badhook"].error and "hook exploded" in failures["fake-badhook"].error
    warned = " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert "fake-noimport" in warned and "fake-badhook" in warned


def test_runtime_plugin_whose_hook_raises_does_not_hide_the_others(caplog: pytest.LogCaptureFixture) -> None:
    registry = Registry(autoload=False)
    registry.register(_Exploding(), name="exploding")
    registry.register(_Plugin("fine"), name="fine-plugin")
    with caplog.at_level(logging.WARNING, logger="solverlayers"):
        assert list(registry.backends()) == ["fine"]
    assert [(f.name, f.distribution) for f in registry.failures] == [("exploding", "<runtime>")]
    assert "hook exploded" in registry.failures[0].error
    assert any("exploding" in r.getMessage() for r in caplog.records)


def test_hook_failure_is_recorded_once() -> None:
    registry = Registry(autoload=False)
    registry.register(_Exploding(), name="exploding")
    registry.backends()
    registry.register(_Plugin("fine"), name="fine-plugin")
    assert list(registry.backends()) == ["fine"]
    assert [f.name for f in registry.failures] == ["exploding"]


@pytest.mark.parametrize("value", ["1", "true", "YES"])
def test_autoload_env_var_loads_only_builtins(site: Path, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    builtins = builtin_backends()
    make_distribution(site, "fake-plugins", {"fake-good": GOOD_PLUGIN.format(backend="fake-good"),
                                             "fake-noimport": IMPORT_FAILS})
    monkeypatch.setenv(AUTOLOAD_ENV, value)
    registry = Registry()
    assert set(registry.backends()) == builtins
    assert registry.failures == []


def test_autoload_env_var_off_values_load_everything(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_distribution(site, "fake-plugins", {"fake-good": GOOD_PLUGIN.format(backend="fake-good")})
    monkeypatch.setenv(AUTOLOAD_ENV, "0")
    registry = Registry()
    assert "fake-good" in registry.backends()
    assert registry.get("fake-good").plugin_distribution == "fake-plugins"


# -- conflicts and lookups ----------------------------------------------------------------------

def test_backend_name_conflict_names_both_distributions() -> None:
    registry = Registry(autoload=False)
    registry.register(_Plugin("dup"), name="first", distribution="dist-alpha")
    registry.register(_Plugin("dup"), name="second", distribution="dist-beta")
    with pytest.raises(PluginConflictError, match="dup") as info:
        registry.backends()
    assert "dist-alpha" in str(info.value) and "dist-beta" in str(info.value)


def test_entry_point_backend_conflicts_with_a_builtin(site: Path) -> None:
    builtin = sorted(builtin_backends())[0]
    make_distribution(site, "fake-clash", {"fake-clash": GOOD_PLUGIN.format(backend=builtin)})
    with pytest.raises(PluginConflictError) as info:
        Registry().backends()
    assert "solverlayers" in str(info.value) and "fake-clash" in str(info.value)


def test_entry_point_named_like_a_builtin_is_a_conflict(site: Path) -> None:
    make_distribution(site, "fake-shadow", {"pysat": GOOD_PLUGIN.format(backend="shadow-pysat")})
    with pytest.raises(PluginConflictError, match="fake-shadow"):
        Registry().backends()


def test_plugin_name_registered_twice() -> None:
    registry = Registry(autoload=False)
    registry.register(_Plugin("a"), name="same")
    with pytest.raises(PluginConflictError, match="same"):
        registry.register(_Plugin("b"), name="same")


def test_unknown_backend_lists_available_ones_and_how_to_install_more(clean_env: Path) -> None:
    registry = Registry(autoload=False)
    registry.register(_Plugin("alpha"), name="p1")
    registry.register(_Plugin("beta"), name="p2")
    with pytest.raises(UnknownBackendError) as info:
        registry.get("gamma")
    message = str(info.value)
    assert "'gamma'" in message and "alpha, beta" in message and "pip install" in message
    with pytest.raises(UnknownBackendError, match="alpha, beta"):
        Solver([Bool("p")], "gamma", registry=registry)


def test_unregister_removes_backends() -> None:
    registry = Registry(autoload=False)
    registry.register(_Plugin("alpha"), name="p1")
    assert "alpha" in registry.backends()
    registry.unregister("p1")
    assert registry.backends() == {}


def test_listing_backends_imports_no_solver() -> None:
    code = textwrap.dedent(f"""
        import json, sys
        import solverlayers
        specs = list(solverlayers.list_backends())
        info = [(s.name, s.capabilities.summary(), s.version, [o.name for o in s.options]) for s in specs]
        print(json.dumps({{"names": [s.name for s in specs],
                          "imported": [m for m in {SOLVER_MODULES!r} if m in sys.modules]}}))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.splitlines()[-1])
    assert out["names"], "no backend is registered"
    assert out["imported"] == [], f"listing backends imported {out['imported']}"


# -- capabilities and options -------------------------------------------------------------------

def test_missing_theory_is_refused_before_the_backend_opens(clean_env: Path) -> None:
    registry = Registry(autoload=False)
    plugin = _Plugin("boolonly")
    registry.register(plugin, name="p")
    with pytest.raises(CapabilityError, match="lia"):
        Solver([Int("i") > 0], "boolonly", registry=registry)
    assert plugin.opened == []


OPTIONS = (
    OptionSpec("engine", str, "fast", "search engine", ("fast", "thorough")),
    OptionSpec("level", int, 1, "effort"),
    OptionSpec("verbose", bool, False, "log"),
)


@pytest.fixture
def recorder(clean_env: Path) -> tuple[Registry, _Plugin]:
    registry = Registry(autoload=False)
    plugin = _Plugin("rec", OPTIONS)
    registry.register(plugin, name="rec-plugin")
    return registry, plugin


def test_option_errors_name_the_option_and_the_choices(recorder: tuple[Registry, _Plugin]) -> None:
    registry, plugin = recorder
    with pytest.raises(OptionError, match=r"'engine'.*choose one of: fast, thorough"):
        Solver((), "rec", registry=registry, engine="medium")
    with pytest.raises(OptionError, match=r"'level' must be int"):
        Solver((), "rec", registry=registry, level=1.5)
    with pytest.raises(OptionError, match=r"no option 'levle'.*valid options: engine, level, verbose"):
        Solver((), "rec", registry=registry, levle=2)
    assert plugin.opened == []


def test_options_reach_the_backend_with_defaults(recorder: tuple[Registry, _Plugin]) -> None:
    registry, plugin = recorder
    Solver((), "rec", registry=registry, level=3)
    assert plugin.opened == [{"engine": "fast", "level": 3, "verbose": False}]


# -- configuration ------------------------------------------------------------------------------

def write_config(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


def test_config_precedence_kwargs_over_toml_over_env(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write_config(clean_env / "chosen.toml", """
        [solverlayers]
        backend = "from-toml"
        [solverlayers.options.from-toml]
        level = 2
        engine = "thorough"
    """)
    monkeypatch.setenv(ENV_BACKEND, "from-env")
    assert resolve(config_file=config).backend == "from-toml"
    assert resolve("from-kwarg", config_file=config).backend == "from-kwarg"
    assert resolve().backend == "from-env"
    assert resolve().source == f"environment variable {ENV_BACKEND}"
    monkeypatch.delenv(ENV_BACKEND)
    assert resolve().backend == "z3" and resolve().source == "default"
    merged = resolve(options={"level": 5}, config_file=config)
    assert dict(merged.options) == {"level": 5, "engine": "thorough"}


def test_config_file_lookup_order(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(clean_env / "solverlayers.toml", '[solverlayers]\nbackend = "from-cwd"\n')
    assert resolve().backend == "from-cwd"
    env_file = write_config(clean_env / "env.toml", '[solverlayers]\nbackend = "from-env-file"\n')
    monkeypatch.setenv(ENV_CONFIG, str(env_file))
    assert resolve().backend == "from-env-file"
    explicit = write_config(clean_env / "explicit.toml", '[solverlayers]\nbackend = "from-arg-file"\n')
    assert resolve(config_file=explicit).backend == "from-arg-file"


def test_toml_options_reach_the_backend_and_are_validated(recorder: tuple[Registry, _Plugin]) -> None:
    registry, plugin = recorder
    good = write_config(Path("good.toml"), """
        [solverlayers]
        backend = "rec"
        [solverlayers.options.rec]
        level = 4
        [solverlayers.options.other]
        level = "ignored: options of another backend"
    """)
    solver = Solver((), config_file=good, registry=registry, verbose=True)
    assert solver.backend == "rec"
    assert plugin.opened == [{"engine": "fast", "level": 4, "verbose": True}]
    bad = write_config(Path("bad.toml"), """
        [solverlayers]
        backend = "rec"
        [solverlayers.options.rec]
        engine = "turbo"
    """)
    with pytest.raises(OptionError, match="engine.*fast, thorough"):
        Solver((), config_file=bad, registry=registry)


def test_env_strings_are_parsed_by_option_type() -> None:
    level, verbose = OPTIONS[1], OPTIONS[2]
    assert level.coerce("7", "rec") == 7
    assert verbose.coerce("yes", "rec") is True and verbose.coerce("off", "rec") is False
    with pytest.raises(OptionError, match="'level'"):
        level.coerce("seven", "rec")


CANARY = """
from pathlib import Path
Path({marker!r}).write_text("imported")
def boom(*args, **kwargs):
    Path({marker!r}).write_text("called")
"""


def test_config_file_cannot_cause_an_import(recorder: tuple[Registry, _Plugin], tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    registry, plugin = recorder
    module = f"slcanary_{next(_unique)}"
    marker = tmp_path / "canary-ran"
    (tmp_path / f"{module}.py").write_text(CANARY.format(marker=str(marker)))
    monkeypatch.syspath_prepend(str(tmp_path))
    target = f"{module}:boom"
    config = write_config(tmp_path / "evil.toml", f"""
        [solverlayers]
        backend = "{target}"
        gradient = "{target}"
        [solverlayers.options."{target}"]
        engine = "{target}"
    """)
    with pytest.raises(UnknownBackendError, match=f"'{target}'"):
        Solver((), config_file=config, registry=registry)
    assert module not in sys.modules and not marker.exists()
    assert plugin.opened == []


@pytest.mark.parametrize("body, message", [
    ('_target_ = "os.system"', "unknown key"),
    ('backend = ["z3"]', "must be a name"),
    ('[solverlayers.options.rec]\nengine = { module = "os", call = "system" }', "string, number or boolean"),
    ('[solverlayers.options]\nrec = "engine=fast"', "options"),
    ("backend = ", "not valid TOML"),
])
def test_malformed_config_files_are_errors(recorder: tuple[Registry, _Plugin], tmp_path: Path,
                                          body: str, message: str) -> None:
    registry, plugin = recorder
    config = write_config(tmp_path / "bad.toml", f"[solverlayers]\n{body}\n")
    with pytest.raises(ConfigError, match=message):
        Solver((), config_file=config, registry=registry)
    assert plugin.opened == []


def test_missing_config_file_is_an_error(recorder: tuple[Registry, _Plugin], tmp_path: Path) -> None:
    registry, _ = recorder
    with pytest.raises(ConfigError, match="does not exist"):
        Solver((), config_file=tmp_path / "nope.toml", registry=registry)
