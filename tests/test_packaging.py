"""A real wheel holds the `solverlayers` package only, with every source package listed."""

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAPPING = {"solverlayers": "core", "solverlayers.plugins": "plugins", "solverlayers.triton_kernels": "triton_kernels"}


def source_packages() -> set[str]:
    """Every directory with an __init__.py under the mapped roots, as a dotted package name."""
    found = set()
    for package, folder in MAPPING.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((package, *rel)))
    return found


def test_every_source_package_is_listed_in_pyproject():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    assert source_packages() - listed == set(), "add these to [tool.setuptools] packages"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)],
        check=True, capture_output=True, timeout=300,
    )
    (path,) = out.glob("solverlayers-*.whl")
    return zipfile.ZipFile(path)


def test_wheel_installs_no_top_level_core_plugins_or_kernels(wheel):
    tops = {name.split("/")[0] for name in wheel.namelist()}
    assert tops == {"solverlayers", next(t for t in tops if t.endswith(".dist-info"))}
    names = set(wheel.namelist())
    for module in ("solverlayers/__init__.py", "solverlayers/plugins/z3/__init__.py",
                   "solverlayers/triton_kernels/satnet.py", "solverlayers/py.typed"):
        assert module in names
    entry_points = wheel.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "[solverlayers]" in entry_points and "z3 = solverlayers.plugins.z3" in entry_points
