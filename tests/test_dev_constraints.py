"""The constraints files ./dev installs the dev tools with cover everything pyproject names."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _lock_dev() -> ModuleType:
    spec = importlib.util.spec_from_file_location("lock_dev", ROOT / "scripts" / "lock_dev.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("lock_dev", module)
    spec.loader.exec_module(module)
    return module


lock_dev = _lock_dev()


@pytest.mark.parametrize("version", lock_dev.PYTHONS)
def test_every_package_pyproject_names_is_pinned(version: str) -> None:
    assert lock_dev.problems(version) == []


def test_a_package_missing_from_a_constraints_file_is_reported(tmp_path: Path) -> None:
    pins = lock_dev.read_pins(lock_dev.constraints_file("3.12"))
    del pins["hypothesis"]
    partial = tmp_path / "py3.12.txt"
    partial.write_text(lock_dev.render("3.12", pins))
    found = lock_dev.problems("3.12", partial)
    assert len(found) == 1
    assert "lacks hypothesis" in found[0]


def test_a_pin_outside_pyprojects_range_is_reported(tmp_path: Path) -> None:
    pins = lock_dev.read_pins(lock_dev.constraints_file("3.12"))
    pins["ruff"] = "0.0.1"
    changed = tmp_path / "py3.12.txt"
    changed.write_text(lock_dev.render("3.12", pins))
    assert any("ruff==0.0.1" in problem for problem in lock_dev.problems("3.12", changed))


def test_the_marker_of_a_python_decides_what_it_needs() -> None:
    assert any(text.startswith("tomli") for text in lock_dev.required("3.10"))
    assert not any(text.startswith("tomli") for text in lock_dev.required("3.12"))


def test_the_metadata_names_the_supported_pythons_and_an_spdx_license() -> None:
    project = lock_dev._load_pyproject()["project"]
    assert isinstance(project, dict)
    classifiers = project["classifiers"]
    versions = {
        c.rsplit(" :: ", 1)[1] for c in classifiers if c.startswith("Programming Language :: Python :: 3.")
    }
    # The Pythons CI pins and runs are the ones the package claims.
    assert versions == set(lock_dev.PYTHONS)
    assert project["requires-python"] == f">={lock_dev.PYTHONS[0]}"
    # PEP 639: an SPDX expression, and then no License :: classifier.
    assert project["license"] == "MIT"
    assert not [c for c in classifiers if c.startswith("License ::")]
    assert any(c.startswith("Development Status :: ") for c in classifiers)
    assert any(c.startswith("Operating System :: ") for c in classifiers)
    # No project has a documentation site or changelog address yet: none is invented.
    assert "urls" not in project
