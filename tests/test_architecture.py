"""The package map of docs/architecture.md holds: layers import downwards only, no import cycles.

Every ``import`` counts, also those inside functions and under ``TYPE_CHECKING``:
a lazy import still ties two modules together.
"""

from __future__ import annotations

import ast
import pathlib
from collections.abc import Iterator

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]

#: Each package's layer: a module imports its own package or packages of lower layers only.
LAYERS: dict[str, int] = {
    "mxgateway.generated": 0,
    # The model layer: the typed model and the public errors and options beside it.
    "mxgateway._model": 1,
    "mxgateway._views": 1,
    "mxgateway._version": 1,
    "mxgateway._retry": 1,
    "mxgateway.errors": 1,
    "mxgateway.options": 1,
    "mxgateway._transport": 2,
    "mxgateway._events": 3,
    "mxgateway._alarms": 3,
    "mxgateway.galaxy": 3,
    "mxgateway._session": 4,
    "mxgateway._clients": 5,
    "mxgateway": 6,
    "mxgateway.simulator": 7,
    "mxgateway_sync": 7,
    "mxgateway.bridge": 8,
    "mxgateway.cli": 9,
}
#: Packages of one layer that must not import each other (siblings, not a stack).
MODEL = (
    "mxgateway._model",
    "mxgateway._views",
    "mxgateway._version",
    "mxgateway._retry",
    "mxgateway.errors",
    "mxgateway.options",
)


def _modules() -> dict[str, pathlib.Path]:
    found: dict[str, pathlib.Path] = {}
    for top in ("mxgateway", "mxgateway_sync"):
        for path in (ROOT / top).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "generated" in parts:
                continue
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = _modules()


def _package(module: str) -> str:
    best = ""
    for package in LAYERS:
        if (module == package or module.startswith(package + ".")) and len(package) > len(best):
            best = package
    return best


def _imports(module: str, path: pathlib.Path) -> Iterator[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            submodules = [
                f"{target}.{alias.name}" for alias in node.names if f"{target}.{alias.name}" in MODULES
            ]
            # ``from package import module`` runs the package's __init__ as every import of a
            # submodule does: it is an import of the module, not of what __init__ re-exports.
            if len(submodules) < len(node.names):
                yield target
            yield from submodules


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        graph[module] = {
            target
            for target in _imports(module, path)
            if target in MODULES and target != module and target.startswith(("mxgateway", "mxgateway_sync"))
        }
    return graph


GRAPH = _graph()


def _layer_of(module: str) -> tuple[str, int]:
    package = _package(module)
    return package, LAYERS[package]


def test_every_module_has_a_layer() -> None:
    assert [m for m in MODULES if not _package(m)] == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_a_module_imports_its_own_package_or_a_lower_layer(module: str) -> None:
    package, layer = _layer_of(module)
    upward = []
    for target in sorted(GRAPH[module]):
        if target == "mxgateway" and package != "mxgateway":
            # The root namespace re-exports everything: only layers above the clients may use it.
            if layer <= LAYERS["mxgateway"]:
                upward.append(target)
            continue
        target_package, target_layer = _layer_of(target)
        same_model_layer = package in MODEL and target_package in MODEL
        if target_package != package and target_layer >= layer and not same_model_layer:
            upward.append(target)
    assert upward == [], f"{module} imports {upward}, which are not below its layer"


def test_no_import_cycles() -> None:
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        stack.append(module)
        for target in sorted(GRAPH[module]):
            if state.get(target) == 1:
                cycles.append([*stack[stack.index(target) :], target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[module] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module)
    # A package's __init__ importing its own modules, which import a sibling through it, is a cycle too.
    assert cycles == [], "\n".join(" -> ".join(cycle) for cycle in cycles)


def test_the_package_root_holds_at_most_ten_modules() -> None:
    root_modules = sorted(p.name for p in (ROOT / "mxgateway").glob("*.py"))
    assert len(root_modules) <= 10, root_modules


def test_no_hand_written_module_is_over_500_lines() -> None:
    long = {
        name: count
        for name, path in MODULES.items()
        if path.name != "_facade.py" and (count := len(path.read_text(encoding="utf-8").splitlines())) > 500
    }
    assert long == {}


def test_the_tests_mirror_the_packages() -> None:
    """Each package of ``mxgateway`` (and the facade) has a test folder of its name."""
    packages = {
        path.parent.name.lstrip("_")
        for path in (ROOT / "mxgateway").glob("*/__init__.py")
        if path.parent.name != "generated"
    }
    packages.add("sync")  # mxgateway_sync
    folders = {path.parent.name for path in (ROOT / "tests").glob("*/test_*.py")}
    assert packages <= folders, f"packages without a test folder: {sorted(packages - folders)}"
