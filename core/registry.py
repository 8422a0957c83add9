"""The plugin registry: discovers plugins through entry points and indexes their descriptors.

Built-in backends are plugins of the ``solverlayers`` entry-point group, exactly like third-party
ones. Loading is forgiving: a plugin that fails to import or whose hook raises is logged,
recorded with the reason, and skipped. Two plugins registering one backend name is an error.
Set ``SOLVERLAYERS_DISABLE_PLUGIN_AUTOLOAD=1`` to load only the built-in plugins.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, replace
from importlib import metadata
from typing import Any

import pluggy

from . import hookspecs
from .capabilities import Requirements
from .descriptors import BackendSpec
from .interfaces import CapabilityError

__all__ = [
    "Registry", "PluginFailure", "UnknownBackendError", "PluginConflictError",
    "default_registry", "get_backend", "list_backends", "AUTOLOAD_ENV",
]

log = logging.getLogger("solverlayers")

AUTOLOAD_ENV = "SOLVERLAYERS_DISABLE_PLUGIN_AUTOLOAD"
OWN_DISTRIBUTION = "solverlayers"
INSTALL_MORE = "install a plugin package (for example `pip install solverlayers-ortools`)"


class UnknownBackendError(LookupError):
    """No backend of that name is registered."""

    def __str__(self) -> str:  # LookupError quotes its message otherwise
        return str(self.args[0])


class PluginConflictError(RuntimeError):
    """Two plugins register the same name."""


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that could not be loaded, and why."""

    name: str
    distribution: str
    error: str


def _autoload_disabled() -> bool:
    return os.environ.get(AUTOLOAD_ENV, "").strip().lower() not in ("", "0", "false", "no")


class Registry:
    """Plugins and the backend (and gradient) descriptors they register."""

    def __init__(self, *, autoload: bool = True) -> None:
        self._pm = pluggy.PluginManager(hookspecs.PROJECT)
        self._pm.add_hookspecs(hookspecs)
        self._distribution: dict[str, str] = {}
        self.failures: list[PluginFailure] = []
        self._cache: dict[str, dict[str, Any]] = {}
        if autoload:
            self.load_entry_points()

    # -- loading ----------------------------------------------------------------------------
    def load_entry_points(self) -> None:
        """Register every plugin of the entry-point group (only built-ins if autoload is off)."""
        builtin_only = _autoload_disabled()
        for ep in metadata.entry_points(group=hookspecs.ENTRY_POINT_GROUP):
            dist = ep.dist.name if ep.dist is not None else "?"
            if builtin_only and dist != OWN_DISTRIBUTION:
                continue
            if self._pm.has_plugin(ep.name):
                if self._distribution.get(ep.name) == dist:
                    continue  # the same distribution seen twice on sys.path
                raise PluginConflictError(
                    f"plugin {ep.name!r} is provided by both {self._distribution.get(ep.name)} and "
                    f"{dist}; uninstall one of them"
                )
            try:
                plugin = ep.load()
            except Exception as exc:  # a broken plugin must not break the others
                self._fail(ep.name, dist, exc)
                continue
            self.register(plugin, name=ep.name, distribution=dist)

    def register(self, plugin: object, *, name: str, distribution: str = "<runtime>") -> None:
        """Register a plugin object (a module or any object with hookimpls)."""
        if self._pm.has_plugin(name):
            raise PluginConflictError(f"a plugin named {name!r} is already registered")
        self._pm.register(plugin, name=name)
        self._distribution[name] = distribution
        self._cache.clear()

    def unregister(self, name: str) -> None:
        self._pm.unregister(name=name)
        self._distribution.pop(name, None)
        self._cache.clear()

    def _fail(self, name: str, dist: str, exc: BaseException) -> None:
        reason = f"{type(exc).__name__}: {exc}"
        if PluginFailure(name, dist, reason) in self.failures:
            return  # a hook that raised is asked again whenever the cache is rebuilt
        log.warning("solverlayers plugin %r (%s) failed to load: %s", name, dist, reason)
        self.failures.append(PluginFailure(name, dist, reason))

    # -- descriptors ------------------------------------------------------------------------
    def _collect(self, hook_name: str, kind: str) -> dict[str, Any]:
        if hook_name in self._cache:
            return self._cache[hook_name]
        found: dict[str, Any] = {}
        owner: dict[str, str] = {}
        for impl in getattr(self._pm.hook, hook_name).get_hookimpls():
            dist = self._distribution.get(impl.plugin_name, "<runtime>")
            try:
                specs = list(impl.function() or ())
            except Exception as exc:
                self._fail(impl.plugin_name, dist, exc)
                continue
            for spec in specs:
                if spec.name in found:
                    raise PluginConflictError(
                        f"{kind} {spec.name!r} is registered by both {owner[spec.name]} and "
                        f"{dist} (plugin {impl.plugin_name!r}); uninstall one of them"
                    )
                if isinstance(spec, BackendSpec):
                    spec = replace(spec, plugin_distribution=dist)
                found[spec.name] = spec
                owner[spec.name] = dist
        self._cache[hook_name] = dict(sorted(found.items()))
        return self._cache[hook_name]

    def backends(self) -> dict[str, BackendSpec]:
        """Every registered backend by name (imports no solver)."""
        return self._collect("solverlayers_backends", "backend")

    def gradients(self) -> dict[str, Any]:
        """Every registered gradient strategy by name."""
        return self._collect("solverlayers_gradients", "gradient strategy")

    def get(self, name: str) -> BackendSpec:
        """The backend called ``name``, or an error listing the ones there are."""
        return _lookup(self.backends(), name, "backend")

    def get_gradient(self, name: str) -> Any:
        return _lookup(self.gradients(), name, "gradient strategy")

    def capable(self, needs: Requirements) -> list[str]:
        """Names of the backends that meet ``needs``."""
        return [n for n, s in self.backends().items() if not needs.unmet(s.capabilities)]

    def select(self, name: str, needs: Requirements) -> BackendSpec:
        """``get(name)``, failing at configuration time if it cannot meet ``needs``."""
        spec = self.get(name)
        unmet = needs.unmet(spec.capabilities)
        if unmet:
            able = self.capable(needs)
            hint = f"backends that can: {', '.join(able)}" if able else f"no installed backend can; {INSTALL_MORE}"
            raise CapabilityError(f"backend {name!r} lacks {', '.join(unmet)}; {hint}")
        return spec


def _lookup(table: dict[str, Any], name: str, kind: str) -> Any:
    if not isinstance(name, str):
        raise TypeError(f"a {kind} is chosen by name (a string), got {type(name).__name__}")
    if name not in table:
        choices = ", ".join(table) or "(none installed)"
        raise UnknownBackendError(f"unknown {kind} {name!r}; choose one of: {choices} (or {INSTALL_MORE})")
    return table[name]


_default: Registry | None = None


def default_registry() -> Registry:
    """The process-wide registry, loaded from entry points on first use."""
    global _default
    if _default is None:
        _default = Registry()
    return _default


def get_backend(name: str) -> BackendSpec:
    return default_registry().get(name)


def list_backends() -> Iterable[BackendSpec]:
    return default_registry().backends().values()
