"""Puts the generated facade module together: imports, helpers, classes; and the package's ``__init__``.

The facade must import fast: a name the classes use only in annotations is
imported under ``TYPE_CHECKING``, and each async module (and the facade's
runtime) is a ``LazyModule`` that imports it on first use, so importing the
facade loads neither grpc nor the core's clients.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from facade_gen import config

#: Modules whose names the facade imports as they are (cheap, and TypeVar runs at import).
EAGER_MODULES = {"collections.abc", "types", "typing"}

#: The facade's runtime, reached like the async modules: loaded with the first call.
RUNTIME = ("mxgateway_sync._runtime", "_runtime")

HELPERS = [
    "",
    "",
    'T = TypeVar("T")',
    'U = TypeVar("U")',
    "",
    "",
    "def _identity(value: T) -> T:",
    "    return value",
    "",
    "",
    "def _optional(value: T | None, convert: Callable[[T], U]) -> U | None:",
    "    return None if value is None else convert(value)",
    "",
    "",
    "def _kept(owner: object, made: T) -> T:",
    "    # A facade handed out by a method keeps its maker alive: a connection",
    "    # closes when its facade is dropped, and Client(...).subscribe(...) or",
    "    # client.galaxy() must not outlive the client they came from.",
    "    for item in made if isinstance(made, list) else (made,):",
    "        if item is not None and hasattr(item, '_async'):",
    "            setattr(item, '_owner', owner)",
    "    return made",
    "",
    "",
    "async def _anext(source: AsyncIterator[T]) -> T:",
    "    return await source.__anext__()",
    "",
    "",
    "async def _await(awaitable: Awaitable[T]) -> T:",
    "    return await awaitable",
]

HELPER_IMPORTS = [
    ("collections.abc", "AsyncIterator"),
    ("collections.abc", "Awaitable"),
    ("collections.abc", "Callable"),
    ("typing", "TYPE_CHECKING"),
    ("typing", "TypeVar"),
    ("mxgateway_sync._lazy", "LazyModule"),
]


def _used(name: str, code: str) -> bool:
    return re.search(rf"\b{re.escape(name)}\b", code) is not None


def _import_sections(
    imports: set[str | tuple[str, str]], from_imports: dict[str, set[str]], runtime_names: set[str], code: str
) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    """The eager import lines, the lines for type checking only, and the lazy modules as (module, alias)."""
    names = {module: set(found) for module, found in from_imports.items()}
    for module, name in HELPER_IMPORTS:
        names.setdefault(module, set()).add(name)
    typing_only: list[str] = []
    lazy: list[tuple[str, str]] = [RUNTIME] if _used(RUNTIME[1], code) else []
    for item in imports:
        if isinstance(item, tuple):
            names.setdefault(item[0], set()).add(item[1])
            continue
        module, _, alias = item.removeprefix("import ").partition(" as ")
        bound = alias or module.split(".")[0]
        if not _used(bound, code):
            continue
        if alias.startswith("_a_"):
            lazy.append((module, alias))
        elif bound in runtime_names:
            raise SystemExit(f"a default uses {bound!r}, which the facade does not import eagerly")
        else:
            typing_only.append(item)
    eager: list[str] = []
    later_lines: list[str] = []
    for module, found in sorted(names.items()):
        used = sorted(n for n in found if _used(n.split(" as ")[-1], code))
        eager_module = module in EAGER_MODULES or module == "mxgateway_sync._lazy"
        now = [n for n in used if eager_module or n.split(" as ")[-1] in runtime_names]
        later = [n for n in used if n not in now]
        if now:
            eager.append(f"from {module} import {', '.join(now)}")
        if later:
            later_lines.append(f"from {module} import {', '.join(later)}")
    return eager, sorted(set(typing_only)) + later_lines, sorted(set(lazy))


def used_helpers(helpers: list[str], code: str) -> list[str]:
    """Drop the helper functions the generated classes never use."""
    kept = []
    for part in re.split(r"\n(?=(?:async )?def )", "\n".join(helpers)):
        found = re.match(r"(?:async )?def (\w+)", part)
        if found is None or _used(found.group(1), code):
            kept.append(part)
    return "\n".join(kept).split("\n")


def facade_module(
    lines: list[str],
    imports: set[str | tuple[str, str]],
    from_imports: dict[str, set[str]],
    runtime_names: set[str],
    class_names: list[str],
) -> str:
    """The facade module's source text, from the emitted class lines and what they use."""
    helpers = used_helpers(HELPERS, "\n".join(lines))
    # TYPE_CHECKING and LazyModule are always used: by the import section itself.
    code = "\n".join(helpers) + "\n".join(lines) + "\nTYPE_CHECKING LazyModule"
    eager, typing_only, lazy = _import_sections(imports, from_imports, runtime_names, code)
    section = [*eager, ""]
    section.append("if TYPE_CHECKING:")
    section += [f"    {line}" for line in typing_only]
    section += [f"    import {module} as {alias}" for module, alias in lazy]
    section.append("else:")
    section.append("    # Loaded by the first call, so that importing the facade stays light.")
    section += [f'    {alias} = LazyModule("{module}")' for module, alias in lazy]
    names = ", ".join(f'"{name}"' for name in class_names)
    body = "\n".join(section) + "\n" + "\n".join(helpers) + "\n" + "\n".join(lines) + "\n"
    return format_source(config.HEADER + body + f"\n\n__all__ = [{names}]\n")


def package_init(core_all: list[str]) -> str:
    """``mxgateway_sync/__init__.py``: the facade classes and every other public core name, loaded on first use."""
    facade = {name for _, name in config.CLASSES}
    exported = [n for n in core_all if n not in config.ASYNC_ONLY]
    missing = facade - set(core_all)
    if missing:
        raise SystemExit(f"mirrored classes missing from mxgateway.__all__: {sorted(missing)}")
    from_core = sorted(n for n in exported if n not in facade)
    sources = {
        "mxgateway": from_core,
        "mxgateway_sync._facade": sorted(facade),
        "mxgateway_sync._runtime": ["LoopThreadCallError"],
    }
    # Every exported name comes from the core unless a later entry says otherwise.
    exports = ",\n".join(
        ["    **dict.fromkeys(__all__, 'mxgateway')"]
        + [f"    **dict.fromkeys({names!r}, {module!r})" for module, names in list(sources.items())[1:]]
    )
    lines = [
        config.PACKAGE_DOC,
        "# Imported under private names: the package's public names are exactly the exported ones.",
        "import importlib as _importlib",
        "import typing as _typing",
        "",
        "from mxgateway_sync import _signals",
        "",
        "# SIGTERM closes the facade's sessions whichever thread makes the first client:",
        "# only the main thread may set a handler, so it is set when the package is imported there.",
        "_signals.install()",
        "",
        "if _typing.TYPE_CHECKING:",
        *(f"    from {module} import {', '.join(names)}" for module, names in sources.items()),
        "",
        f"__all__ = [{', '.join(repr(n) for n in sorted([*exported, 'LoopThreadCallError']))}]",
        "",
        "# Each name is imported on first use: importing the package loads neither grpc nor the core.",
        f"_EXPORTS: dict[str, str] = {{\n{exports},\n}}",
        "",
        "",
        "def __getattr__(name: str) -> object:",
        "    module = _EXPORTS.get(name)",
        "    if module is None:",
        "        raise AttributeError(f\"module 'mxgateway_sync' has no attribute {name!r}\")",
        "    value = getattr(_importlib.import_module(module), name)",
        "    globals()[name] = value",
        "    return value",
        "",
        "",
        "def __dir__() -> list[str]:",
        "    return sorted(set(globals()) | set(_EXPORTS))",
    ]
    return format_source("\n".join(lines) + "\n", config.PACKAGE_INIT)


def format_source(text: str, path: Path = config.OUTPUT) -> str:
    """Sort imports and format with the pinned ruff (dev extra), so the output is the same everywhere."""
    steps = [
        ["check", "--fix", "--select", "I", "--quiet", "--exit-zero"],
        ["format", "--quiet"],
    ]
    for step in steps:
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *step, "--stdin-filename", str(path), "-"],
            input=text,
            capture_output=True,
            text=True,
            cwd=config.ROOT,
            check=False,
        )
        if result.returncode != 0:
            raise SystemExit(f"ruff could not {step[0]} {path.name}:\n{result.stderr}")
        text = result.stdout
    return text
