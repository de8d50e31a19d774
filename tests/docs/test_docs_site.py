"""The built docs site: every public method of the clients is in the API reference, and nothing loads from the internet."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

import mxgateway

from .snippets import ROOT

#: The classes whose whole surface, inherited methods included, the reference must show.
DOCUMENTED = ("Client", "Session", "GatewayClient")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("mkdocs")
    folder = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(folder)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return folder


def public_members(cls: type) -> list[str]:
    return sorted(name for name in dir(cls) if not name.startswith("_"))


@pytest.mark.parametrize("name", DOCUMENTED)
def test_every_public_member_is_in_the_api_reference(site: Path, name: str) -> None:
    page = (site / "api" / "index.html").read_text(encoding="utf-8")
    members = public_members(getattr(mxgateway, name))
    assert {"read", "write", "subscribe"} <= set(members) or name == "GatewayClient"
    missing = [m for m in members if f'id="mxgateway.{name}.{m}"' not in page]
    assert missing == []


class _Assets(HTMLParser):
    """The URLs a page loads by itself: stylesheets, scripts, images, fonts (not the links one follows)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "link" and (values.get("rel") or "") not in ("canonical", "alternate"):
            self.urls.append(values.get("href") or "")
        elif tag in ("script", "img", "iframe", "source", "audio", "video"):
            self.urls.append(values.get("src") or "")


def test_the_site_loads_nothing_from_the_internet(site: Path) -> None:
    external: list[str] = []
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > 5
    for page in pages:
        parser = _Assets()
        parser.feed(page.read_text(encoding="utf-8"))
        external += [f"{page.relative_to(site)}: {u}" for u in parser.urls if re.match(r"(https?:)?//", u)]
    for sheet in [*site.rglob("*.css"), *site.rglob("*.svg")]:
        text = sheet.read_text(encoding="utf-8", errors="replace")
        external += [
            f"{sheet.relative_to(site)}: {u}"
            for u in re.findall(r"url\(\s*['\"]?((?:https?:)?//[^)'\"]+)", text)
        ]
        external += [
            f"{sheet.relative_to(site)}: {u}"
            for u in re.findall(r"@import\s+['\"]((?:https?:)?//[^'\"]+)", text)
        ]
    assert external == []
    assert not any("fonts.googleapis" in p.read_text(encoding="utf-8") for p in pages)


def test_the_docs_pictures_come_from_the_script(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "render_docs_images.py"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith("MXGATEWAY_")},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    made = sorted(p.name for p in tmp_path.iterdir())
    committed = sorted(p.name for p in (ROOT / "docs" / "images").iterdir())
    assert made == committed == ["alarms-watch.svg", "recording.png", "trend.png", "watch.svg"]
    for name in ("recording.png", "trend.png"):
        assert (tmp_path / name).read_bytes().startswith(b"\x89PNG")
    watch = (tmp_path / "watch.svg").read_text(encoding="utf-8")
    assert "Tank_001.Level" in watch
    assert "changes/s" in watch
    alarms = (tmp_path / "alarms-watch.svg").read_text(encoding="utf-8")
    assert "Pump_002.Fault" in alarms
    for text in (watch, alarms):
        assert not re.search(r"url\(\s*['\"]?https?:", text)
    pages = (ROOT / "docs" / "notebooks.md").read_text() + (ROOT / "docs" / "cli.md").read_text()
    assert all(f"images/{name}" in pages for name in committed)
