"""Exporting the hierarchy as a Galaxy file, and serving that file from a second simulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mxgateway.galaxy import GalaxyRepositoryClient, MxGatewayStalePageTokenError
from mxgateway.simulator.galaxy import Galaxy
from mxgateway.simulator.server import Simulator

from .support import Repo, deploy_now, plant_galaxy, serve_repository

pytestmark = pytest.mark.anyio


async def test_export_round_trip_through_a_second_simulator(tmp_path: Path) -> None:
    first_file = tmp_path / "plant.json"
    second_file = tmp_path / "again.json"
    progress: list[tuple[int, int]] = []
    async with (
        Simulator(update_rate_hz=0) as source,
        GalaxyRepositoryClient.connect(source.endpoint, plaintext=True) as client,
    ):
        count = await client.export_galaxy_file(
            first_file, name="water-plant", page_size=7, on_progress=lambda *p: progress.append(p)
        )
        original = await client.discover_hierarchy()
        original_deploy = await client.get_last_deploy_time()
    total = len(original)
    assert count == total
    assert progress == [(min(n, total), total) for n in range(7, total + 7, 7)]

    loaded = Galaxy.load(first_file)
    assert loaded.name == "water-plant"
    assert loaded.time_of_last_deploy == original_deploy
    async with (
        Simulator(galaxy=loaded, update_rate_hz=0) as copy,
        GalaxyRepositoryClient.connect(copy.endpoint, plaintext=True) as client,
    ):
        served = await client.discover_hierarchy()
        assert await client.get_last_deploy_time() == original_deploy
        assert await client.export_galaxy_file(second_file, name="water-plant") == total
    # The same hierarchy, message for message, attributes included.
    assert served == original
    assert sum(len(o.attributes) for o in served) > 0
    assert second_file.read_bytes() == first_file.read_bytes()


async def test_the_file_follows_the_documented_format(repo: Repo, tmp_path: Path) -> None:
    path = tmp_path / "plant.json"
    assert await repo.client.export_galaxy_file(path, name="plant") == 10
    data = json.loads(path.read_text(encoding="utf-8"))
    assert (data["format"], data["version"], data["name"]) == ("mxgateway-galaxy", 1, "plant")
    assert data["time_of_last_deploy"] == "2026-01-05T08:30:00Z"
    assert [o["gobject_id"] for o in data["objects"]] == [o.gobject_id for o, _ in plant_galaxy().walk()]
    assert data["objects"][3]["attributes"][0]["full_tag_reference"] == "Tank_N1.Level"
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


async def test_an_empty_or_never_deployed_galaxy_exports_too(tmp_path: Path) -> None:
    async with serve_repository(Galaxy([], name="empty")) as repo:
        progress: list[tuple[int, int]] = []
        path = tmp_path / "empty.json"
        assert await repo.client.export_galaxy_file(path, on_progress=lambda *p: progress.append(p)) == 0
    assert progress == [(0, 0)]
    loaded = Galaxy.load(path)
    assert loaded.objects == []
    assert loaded.time_of_last_deploy is None


async def test_a_redeploy_during_the_export_starts_it_over(repo: Repo, tmp_path: Path) -> None:
    progress: list[tuple[int, int]] = []
    without_spare = Galaxy([o for o in plant_galaxy().objects if o.tag_name != "Spare"], name="plant")

    def on_progress(done: int, total: int) -> None:
        progress.append((done, total))
        if len(progress) == 1:
            deploy_now(repo.service, without_spare)

    path = tmp_path / "plant.json"
    assert await repo.client.export_galaxy_file(path, page_size=4, on_progress=on_progress) == 9
    assert progress == [(4, 10), (4, 9), (8, 9), (9, 9)]
    assert [o.tag_name for o in Galaxy.load(path).objects][-1] == "Beta_Pump"


async def test_an_export_that_keeps_being_redeployed_gives_up(repo: Repo, tmp_path: Path) -> None:
    def on_progress(done: int, total: int) -> None:
        deploy_now(repo.service)

    path = tmp_path / "plant.json"
    with pytest.raises(MxGatewayStalePageTokenError):
        await repo.client.export_galaxy_file(path, page_size=4, on_progress=on_progress)
    assert list(tmp_path.iterdir()) == []  # neither the file nor a temporary one
