"""The fenced ``python`` and ``bash`` blocks of the README and docs/*.md, as runnable snippets.

A block preceded (on the line before its fence) by ``<!-- snippet: skip (reason) -->``
cannot run here (it needs a real gateway, installs packages, ...): it is listed
with its reason instead of run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LANGUAGES = ("python", "bash")
_FENCE = re.compile(r"^```(\w*)\s*$")
_SKIP = re.compile(r"^<!--\s*snippet:\s*skip\s*\((?P<reason>[^)]+)\)\s*-->\s*$")


@dataclass(frozen=True)
class Snippet:
    """One fenced block: where it is, its language, its code and why it is skipped (if it is)."""

    path: Path
    line: int
    language: str
    code: str
    skip_reason: str | None

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def documents() -> list[Path]:
    """README.md and every docs/*.md page."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def snippets_of(path: Path) -> list[Snippet]:
    """Every python and bash block of one Markdown file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Snippet] = []
    index = 0
    while index < len(lines):
        opened = _FENCE.match(lines[index])
        if opened is None:
            index += 1
            continue
        language = opened.group(1)
        start = index
        index += 1
        body: list[str] = []
        while index < len(lines) and not lines[index].startswith("```"):
            body.append(lines[index])
            index += 1
        index += 1  # the closing fence
        if language not in LANGUAGES:
            continue
        marker = _SKIP.match(lines[start - 1]) if start > 0 else None
        found.append(
            Snippet(
                path, start + 1, language, "\n".join(body) + "\n", marker.group("reason") if marker else None
            )
        )
    return found


def all_snippets() -> list[Snippet]:
    """The snippets of every document, in order."""
    return [snippet for path in documents() for snippet in snippets_of(path)]
