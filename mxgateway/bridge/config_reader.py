"""Typed, located access to a parsed TOML configuration: every failure names its line and key.

``Reader`` hands out each key's value checked for its type and range, and remembers
where every key sits in the file, so that a mistake found later (a glob that
matches nothing once the Galaxy is known) still points at its line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["ConfigError", "Locations", "Reader", "Secret"]


class ConfigError(ValueError):
    """A configuration file that cannot be used; the message names the line and the key."""


class Secret:
    """A secret value (password, API key) that never shows itself in a repr or str."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself, for the one call that needs it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


class Locations:
    """Where the tables and keys of one file are: ``file:line: [table] key: message`` errors."""

    def __init__(self, text: str = "", source: str = "<config>") -> None:
        self.source = source
        self._lines = text.splitlines()

    def __repr__(self) -> str:
        return f"Locations({self.source!r})"

    def line_of(self, table: str, key: str | None) -> int | None:
        """The line of ``key`` in ``[table]`` (the table's header when the key is absent)."""
        current = ""
        header_line: int | None = None
        for number, raw in enumerate(self._lines, start=1):
            line = raw.strip()
            if line.startswith("[") and not line.startswith("[["):
                current = line.strip("[]").strip()
                if current == table:
                    header_line = number
                continue
            if key is not None and current == table and re.match(rf"^{re.escape(key)}\s*=", line):
                return number
        return header_line

    def error(self, table: str, key: str | None, message: str) -> ConfigError:
        """A ``ConfigError`` located at ``[table] key``."""
        line = self.line_of(table, key)
        where = f"{self.source}:{line}" if line else self.source
        name = f"[{table}] {key}" if key else f"[{table}]"
        return ConfigError(f"{where}: {name}: {message}")


class Reader:
    """Typed access to one parsed file, each failure located at its line."""

    def __init__(self, locations: Locations, data: Mapping[str, Any], tables: tuple[str, ...]) -> None:
        self.locations = locations
        self._data = data
        self._tables = tables
        self._used: dict[str, set[str]] = {}

    def fail(self, table: str, key: str | None, message: str) -> ConfigError:
        """A located ``ConfigError``."""
        return self.locations.error(table, key, message)

    def table(self, name: str) -> Mapping[str, Any]:
        """A table of the file (empty when absent)."""
        value = self._data.get(name, {})
        if not isinstance(value, Mapping):
            raise self.fail(name, None, "expected a table")
        self._used.setdefault(name, set())
        return value

    def has(self, table: str, key: str) -> bool:
        """True when the file sets ``[table] key``."""
        return key in self.table(table)

    def _get(self, table: str, key: str) -> Any:
        self._used.setdefault(table, set()).add(key)
        return self.table(table).get(key)

    def string(self, table: str, key: str, default: str) -> str:
        """A string, ``default`` when absent."""
        value = self._get(table, key)
        if value is None:
            return default
        if not isinstance(value, str):
            raise self.fail(table, key, f"expected a string, got {type(value).__name__}")
        return value

    def optional_string(self, table: str, key: str) -> str | None:
        """A string, None when absent or empty."""
        value = self.string(table, key, "")
        return value or None

    def boolean(self, table: str, key: str, default: bool) -> bool:
        """``true`` or ``false``."""
        value = self._get(table, key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.fail(table, key, f"expected true or false, got {type(value).__name__}")
        return value

    def optional_boolean(self, table: str, key: str) -> bool | None:
        """``true``, ``false`` or None when absent."""
        return None if self._get(table, key) is None else self.boolean(table, key, False)

    def integer(self, table: str, key: str, default: int, low: int, high: int) -> int:
        """An integer within ``low`` and ``high``."""
        value = self._get(table, key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(table, key, f"expected an integer, got {type(value).__name__}")
        if not low <= value <= high:
            raise self.fail(table, key, f"must be between {low} and {high}, got {value}")
        return value

    def number(self, table: str, key: str, default: float, low: float) -> float:
        """A number of at least ``low``."""
        value = self._get(table, key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(table, key, f"expected a number, got {type(value).__name__}")
        if not value >= low:
            raise self.fail(table, key, f"must be at least {low}, got {value}")
        return float(value)

    def strings(self, table: str, key: str) -> tuple[str, ...]:
        """A list of non-empty strings."""
        value = self._get(table, key)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(table, key, "expected a list of non-empty strings")
        return tuple(value)

    def secret(self, table: str, key: str) -> Secret | None:
        """``{key}_env`` names an environment variable, ``{key}_file`` a file; never the value."""
        if key in self.table(table):
            raise self.fail(table, key, f"put secrets in {key}_file or {key}_env, not in the file")
        env = self.optional_string(table, f"{key}_env")
        path = self.optional_string(table, f"{key}_file")
        if env and path:
            raise self.fail(table, f"{key}_file", f"give {key}_env or {key}_file, not both")
        if env:
            value = os.environ.get(env)
            if value is None:
                raise self.fail(table, f"{key}_env", f"the environment variable {env} is not set")
            return Secret(value)
        if path:
            try:
                text = Path(path).expanduser().read_text(encoding="utf-8")
            except OSError as exc:
                reason = exc.strerror or type(exc).__name__
                raise self.fail(table, f"{key}_file", f"cannot read {path}: {reason}") from None
            except UnicodeDecodeError:
                raise self.fail(table, f"{key}_file", f"{path} is not UTF-8 text") from None
            return Secret(text.strip())
        return None

    def check_unknown(self) -> None:
        """Unknown tables and keys are mistakes too."""
        for name in self._data:
            if name not in self._tables:
                raise self.fail(name, None, f"unknown table (known: {', '.join(self._tables)})")
        for name, used in self._used.items():
            for key in self.table(name):
                if key not in used:
                    raise self.fail(name, key, "unknown key")
