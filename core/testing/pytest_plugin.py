"""pytest plugin (``pytest11`` entry point): a ``--solverlayers-backend`` option and fixture.

Deliberately light: loading it imports only pytest and the solverlayers package itself (no
solver, no hypothesis, no conformance kit), so it costs nothing in test runs that do not use it.
"""

from __future__ import annotations

import pytest

OPTION = "--solverlayers-backend"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("solverlayers")
    group.addoption(
        OPTION,
        action="append",
        default=[],
        metavar="NAME",
        help="run solverlayers backend tests only for this backend (repeatable; default: all installed)",
    )


def selected_backends(config: pytest.Config) -> list[str]:
    """The backend names given with ``--solverlayers-backend`` (empty: no restriction)."""
    return list(config.getoption(OPTION, default=[]) or [])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect conformance tests of backends the command line did not select."""
    wanted = selected_backends(config)
    if not wanted:
        return
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        backend = getattr(getattr(item, "cls", None), "backend", None)
        is_kit = getattr(getattr(item, "cls", None), "__solverlayers_conformance__", False)
        (drop if is_kit and backend not in wanted else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture
def solverlayers_backend(request: pytest.FixtureRequest) -> str:
    """The single backend named with ``--solverlayers-backend`` (skips when none or several)."""
    wanted = selected_backends(request.config)
    if len(wanted) != 1:
        pytest.skip(f"pass exactly one {OPTION}=NAME to run this test")
    return wanted[0]
