"""Fixtures of the Galaxy Repository client tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from .support import Repo, plant_galaxy, serve_repository


@pytest.fixture
async def repo(anyio_backend: object) -> AsyncIterator[Repo]:
    """The plant Galaxy on a bare repository server, with a connected client."""
    async with serve_repository(plant_galaxy()) as served:
        yield served
