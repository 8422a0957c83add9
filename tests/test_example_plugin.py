"""The example third-party plugin (examples/ortools_backend) passes its own test suite,
conformance kit included, as its CI would run it."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "ortools_backend"


@pytest.mark.skipif(
    importlib.util.find_spec("solverlayers_ortools") is None,
    reason="solverlayers_ortools is not installed: pip install --no-deps -e examples/ortools_backend",
)
def test_example_plugin_suite_passes() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE / "tests")],
        cwd=EXAMPLE, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "failed" not in done.stdout
