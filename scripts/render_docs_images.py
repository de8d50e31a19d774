#!/usr/bin/env python3
"""Render the pictures of docs/notebooks.md and docs/cli.md from the demo plant (embedded simulator).

    python scripts/render_docs_images.py              writes docs/images/*.png and *.svg
    python scripts/render_docs_images.py --out DIR    writes them to DIR instead

- ``recording.png``: ``client.record(...)`` of a few seconds, drawn by ``ResultList.plot()``;
- ``trend.png``: the last frame of ``client.trend(...)`` (the chart a live trend leaves);
- ``watch.svg``: ``mxgw-py watch`` on a terminal, drawn by the command's own view;
- ``alarms-watch.svg``: ``mxgw-py alarms watch`` on a terminal.

The terminal pictures are Rich's SVG export without its web-font links, so the
docs site stays usable offline.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "docs" / "images"
WATCHED = ["Tank_001.Level", "Tank_001.Volume", "Pump_001.Speed", "Pump_001.Running", "Tank_001.Name"]


def _svg_format() -> str:
    from rich._export_format import CONSOLE_SVG_FORMAT

    # Rich links a web font; the docs site must not fetch anything.
    return re.sub(r"@font-face \{\{.*?\}\}\s*", "", CONSOLE_SVG_FORMAT, flags=re.DOTALL)


def _console(width: int):  # type: ignore[no-untyped-def]
    from rich.console import Console

    return Console(record=True, width=width, file=open("/dev/null", "w"), force_terminal=True)


def render_plots(client, images: Path) -> None:  # type: ignore[no-untyped-def]
    from mxgateway._views import plotting

    recording = client.record(["Tank_001.Level", "Tank_001.Volume", "Pump_001.Speed"], seconds=4)
    recording.plot().savefig(images / "recording.png", dpi=80)
    trended = client.record(["Tank_001.Level", "Pump_001.Speed"], seconds=4)
    changes = sum(1 for item in trended if hasattr(item, "tag"))
    figure = plotting.plot_recording(
        trended, title=f"Tank_001.Level, Pump_001.Speed: {changes} changes, ended after 4 s"
    )
    figure.savefig(images / "trend.png", dpi=80)


def render_watch(client, images: Path) -> None:  # type: ignore[no-untyped-def]
    from mxgateway.cli.live_views import TagBoard

    board = TagBoard(WATCHED)
    with client.subscribe(WATCHED) as subscription:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            board.add(subscription.collect(0.25))
    console = _console(100)
    console.print(board.render())
    console.save_svg(
        str(images / "watch.svg"),
        title="mxgw-py watch " + " ".join(WATCHED[:3]) + " ...",
        code_format=_svg_format(),
    )


def render_alarms(client, images: Path) -> None:  # type: ignore[no-untyped-def]
    from mxgateway.cli.live_views import AlarmSummary

    summary = AlarmSummary()
    with client.alarm_feed() as feed:
        for event in feed:
            if not hasattr(event, "alarm"):
                summary.provider = event.mode.name
                break
        console = _console(110)
        console.print(summary.render(feed.active))
    console.save_svg(
        str(images / "alarms-watch.svg"), title="mxgw-py alarms watch", code_format=_svg_format()
    )


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=IMAGES, help="folder to write to (default docs/images)")
    images: Path = parser.parse_args(argv).out
    sys.path.insert(0, str(ROOT))
    import matplotlib

    matplotlib.use("Agg")
    from mxgateway_sync import Client

    images.mkdir(parents=True, exist_ok=True)
    with Client(endpoint="simulator") as client:
        render_plots(client, images)
        render_watch(client, images)
        render_alarms(client, images)
    for path in sorted(images.iterdir()):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
