"""``GalaxyRepositoryClient``: read-only browse of the Galaxy Repository and its deploy events.

``async with GalaxyRepositoryClient.connect(endpoint, api_key=...) as galaxy``
takes the same settings as ``GatewayClient.connect``; pass ``channel=`` (and
``options=``) of a ``GatewayClient`` to share its channel.

Results are the generated messages of ``galaxy_repository.v1`` (``GalaxyObject``,
``GalaxyAttribute``, ``DeployEvent``), never copies: a walk of 100,000 objects
costs no more than the messages themselves. ``to_dict()`` turns one into a plain
dict; ``export_galaxy_file()`` writes the whole hierarchy as a Galaxy file the
embedded simulator can serve.

Paging is hidden but lazy: ``iter_hierarchy()`` asks for the next page only when
the caller has consumed the current one, and drops each page before fetching the
next, so memory stays bounded by one page. Every RPC needs scope ``metadata:read``.

Filters (categories, templates, a tag-name glob, attributes or not, alarm-bearing
or historized objects only, and the page size) are keywords of each call, or one
frozen ``HierarchyFilter`` whose ``keywords()`` are passed on.

Errors are the core's typed errors (``mxgateway.errors``), three of them for
Galaxy calls: a page token the gateway refuses (``MxGatewayPageTokenError``;
``MxGatewayStalePageTokenError`` when the Galaxy was redeployed while paging:
start again), and an unknown root or parent object
(``MxGatewayObjectNotFoundError``).
"""

from __future__ import annotations

from mxgateway._model.scopes import METADATA_READ
from mxgateway.errors import (
    MxGatewayObjectNotFoundError,
    MxGatewayPageTokenError,
    MxGatewayStalePageTokenError,
)
from mxgateway.galaxy._client import GalaxyRepositoryClient
from mxgateway.galaxy._deploy import DeployEventStream
from mxgateway.galaxy._export import to_dict
from mxgateway.galaxy._filters import (
    DEFAULT_PAGE_SIZE,
    HierarchyFilter,
    deploy_time,
    glob_matcher,
)
from mxgateway.galaxy._paging import HierarchyIterator
from mxgateway.galaxy._tree import BrowseNode

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "METADATA_READ",
    "BrowseNode",
    "DeployEventStream",
    "GalaxyRepositoryClient",
    "HierarchyFilter",
    "HierarchyIterator",
    "MxGatewayObjectNotFoundError",
    "MxGatewayPageTokenError",
    "MxGatewayStalePageTokenError",
    "deploy_time",
    "glob_matcher",
    "to_dict",
]
