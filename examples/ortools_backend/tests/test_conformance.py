"""The solverlayers conformance kit, run against this plugin's backend."""

from __future__ import annotations

from solverlayers.testing import BackendConformance


class TestOrtools(BackendConformance):
    backend = "ortools"
