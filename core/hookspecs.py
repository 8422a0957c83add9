"""The hooks a solverlayers plugin may implement.

A plugin is a module (or object) registered under the ``solverlayers`` entry-point group, with
functions marked ``@solverlayers.hookimpl``. The built-in backends are plugins of exactly this kind.
Hooks register descriptors; they never run per solve (a pluggy call costs microseconds).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from .descriptors import BackendSpec

PROJECT = "solverlayers"
ENTRY_POINT_GROUP = "solverlayers"
#: The plugin API's own semantic version (hooks, descriptors, session contracts); see plugins/README.md.
PLUGIN_API_VERSION = "1.0"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def solverlayers_backends() -> Iterable[BackendSpec]:
    """Return the solver backends this plugin provides, as :class:`BackendSpec` descriptors.

    Must be cheap and import no solver: heavy imports belong in ``BackendSpec.open``.
    """


@hookspec
def solverlayers_gradients() -> Iterable[Any]:
    """Return the gradient strategies (``GradientSpec`` descriptors) this plugin provides."""
