"""The async classes the facade mirrors, read from the core: their members, docs and imports."""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import sys
import textwrap
import types
from dataclasses import dataclass, field

from facade_gen import config


@dataclass
class Member:
    name: str
    kind: str  # "async", "sync", "property", "classmethod", "staticmethod"
    node: ast.FunctionDef | ast.AsyncFunctionDef
    source_module: types.ModuleType


@dataclass
class ClassInfo:
    name: str
    cls: type
    module: types.ModuleType
    doc: str
    members: dict[str, Member] = field(default_factory=dict)
    #: The nearest mirrored base class: the facade subclasses its facade and
    #: emits only what this class adds or overrides.
    base: ClassInfo | None = None


def available_classes() -> list[ClassInfo]:
    infos = []
    for module_name, class_name in config.CLASSES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            raise SystemExit(
                f"CLASSES names {module_name}.{class_name}, but the module is missing: {exc}"
            ) from exc
        cls = getattr(module, class_name, None)
        if not isinstance(cls, type):
            raise SystemExit(f"CLASSES names {module_name}.{class_name}, which does not exist")
        infos.append(ClassInfo(class_name, cls, module, inspect.getdoc(cls) or ""))
    return infos


def _decorator_names(node: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    names = set()
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if isinstance(target, ast.Name):
            names.add(target.id)
        elif isinstance(target, ast.Attribute):
            names.add(target.attr)
    return names


KEPT_DUNDERS = {"__init__", "__aenter__", "__aexit__", "__aiter__", "__anext__", "__await__", "_repr_html_"}


def collect_members(info: ClassInfo) -> None:
    mro = info.cls.__mro__
    if info.base is not None:
        mro = mro[: mro.index(info.base.cls)]
    # Walk the MRO from the base down so that subclasses override.
    for klass in reversed(mro):
        if not klass.__module__.startswith("mxgateway."):
            continue
        module = sys.modules[klass.__module__]
        tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        class_node = tree.body[0]
        assert isinstance(class_node, ast.ClassDef)
        for node in class_node.body:
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            name = node.name
            if name.startswith("_") and name not in KEPT_DUNDERS:
                continue
            if (klass.__name__, name) in config.ASYNC_ONLY_MEMBERS:
                continue
            decorators = _decorator_names(node)
            if "overload" in decorators:
                continue
            if "property" in decorators:
                kind = "property"
            elif "classmethod" in decorators:
                kind = "classmethod"
            elif "staticmethod" in decorators:
                kind = "staticmethod"
            elif isinstance(node, ast.AsyncFunctionDef):
                kind = "async"
            else:
                kind = "sync"
            info.members[name] = Member(name, kind, node, module)


def sync_doc(text: str) -> str:
    for old, new in config.DOC_REWRITES:
        text = text.replace(old, new)
    return text


@functools.cache
def module_imports(module: types.ModuleType) -> dict[str, str | tuple[str, str]]:
    """Each name a module imports, with the import that binds it (TYPE_CHECKING blocks included)."""
    table: dict[str, str | tuple[str, str]] = {}
    for node in ast.walk(ast.parse(inspect.getsource(module))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                bound = alias.asname or alias.name
                table[bound] = (node.module, alias.name if not alias.asname else f"{alias.name} as {bound}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    table[alias.asname] = f"import {alias.name} as {alias.asname}"
                else:
                    table[alias.name.split(".")[0]] = f"import {alias.name}"
    return table
