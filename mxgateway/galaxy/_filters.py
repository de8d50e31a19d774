"""What a Galaxy walk asks for: ``HierarchyFilter``, the request builders and the glob rules."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Sequence
from typing import Any

from google.protobuf.wrappers_pb2 import Int32Value

from mxgateway._model.checks import RULES
from mxgateway.generated import galaxy_repository_pb2 as gr

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "HierarchyFilter",
    "browse_request",
    "check_page_size",
    "deploy_time",
    "discover_request",
    "glob_matcher",
    "object_glob_for_reference",
]

#: Objects per page this client asks for unless told otherwise (the gateway caps it at 5,000).
DEFAULT_PAGE_SIZE = 1000

_UTC = dt.timezone.utc


def check_page_size(page_size: int) -> None:
    """Raise ``ValueError`` for a negative page size."""
    if page_size < 0:
        raise ValueError(f"page_size must be >= 0 (0 = the gateway's default), got {page_size}")


def _strings(values: Sequence[str] | str) -> tuple[str, ...]:
    return (values,) if isinstance(values, str) else tuple(values)


@dataclasses.dataclass(frozen=True)
class HierarchyFilter:
    """The filters of a hierarchy walk or a browse, and its page size (combined with "and").

    ``category_ids``; ``template_chain_contains`` (substrings of any template in
    the chain); ``tag_name_glob`` (``*`` and ``?``, case-insensitive);
    ``include_attributes=False`` for the skeleton only; ``alarm_bearing_only``;
    ``historized_only``; ``page_size`` 0 is the gateway's default.
    """

    category_ids: Sequence[int] = ()
    template_chain_contains: Sequence[str] | str = ()
    tag_name_glob: str = ""
    include_attributes: bool = True
    alarm_bearing_only: bool = False
    historized_only: bool = False
    page_size: int = DEFAULT_PAGE_SIZE

    def __post_init__(self) -> None:
        # The same rules as the walks' and browses' own arguments: a typed error naming the field.
        for field in dataclasses.fields(self):
            rule = RULES.get(field.name)
            if rule is not None:
                rule(field.name, getattr(self, field.name))
        check_page_size(self.page_size)
        # Frozen means frozen: lists given by the caller are copied into tuples.
        object.__setattr__(self, "category_ids", tuple(self.category_ids))
        object.__setattr__(self, "template_chain_contains", _strings(self.template_chain_contains))

    def keywords(self) -> dict[str, Any]:
        """The filter as the keyword arguments of the client's browse and walk methods."""
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}

    def request_fields(self) -> dict[str, Any]:
        """The filter as the fields of a DiscoverHierarchy or BrowseChildren request."""
        return {
            "page_size": self.page_size,
            "category_ids": list(self.category_ids),
            "template_chain_contains": list(self.template_chain_contains),
            "tag_name_glob": self.tag_name_glob,
            "include_attributes": self.include_attributes,
            "alarm_bearing_only": self.alarm_bearing_only,
            "historized_only": self.historized_only,
        }


def _one_of(kind: str, **choices: int | str | None) -> tuple[str, int | str] | None:
    given = [(name, value) for name, value in choices.items() if value is not None]
    if len(given) > 1:
        raise ValueError(f"give at most one {kind}: {', '.join(name for name, _ in given)}")
    return given[0] if given else None


def discover_request(
    hierarchy_filter: HierarchyFilter,
    *,
    root_gobject_id: int | None,
    root_tag_name: str | None,
    root_contained_path: str | None,
    max_depth: int | None,
) -> gr.DiscoverHierarchyRequest:
    """The first DiscoverHierarchyRequest of a walk (at most one root)."""
    root = _one_of(
        "root",
        root_gobject_id=root_gobject_id,
        root_tag_name=root_tag_name,
        root_contained_path=root_contained_path,
    )
    if max_depth is not None and max_depth < 0:
        raise ValueError(f"max_depth must be >= 0 (None = unlimited), got {max_depth}")
    request = gr.DiscoverHierarchyRequest(**hierarchy_filter.request_fields())
    if root is not None:
        setattr(request, root[0], root[1])
    if max_depth is not None:
        request.max_depth.CopyFrom(Int32Value(value=max_depth))
    return request


def browse_request(
    hierarchy_filter: HierarchyFilter,
    *,
    parent_gobject_id: int | None,
    parent_tag_name: str | None,
    parent_contained_path: str | None,
) -> gr.BrowseChildrenRequest:
    """The first BrowseChildrenRequest of one parent (none: the Galaxy's roots)."""
    parent = _one_of(
        "parent",
        parent_gobject_id=parent_gobject_id,
        parent_tag_name=parent_tag_name,
        parent_contained_path=parent_contained_path,
    )
    request = gr.BrowseChildrenRequest(**hierarchy_filter.request_fields())
    if parent is not None:
        setattr(request, parent[0], parent[1])
    return request


def deploy_time(message: gr.DeployEvent | gr.GetLastDeployTimeReply) -> dt.datetime | None:
    """The deploy time a deploy event or reply carries (aware, UTC), None if never deployed."""
    if not message.time_of_last_deploy_present:
        return None
    value: dt.datetime = message.time_of_last_deploy.ToDatetime(tzinfo=_UTC)
    return value


def glob_matcher(glob: str) -> re.Pattern[str]:
    """The contract's glob as a regular expression: ``*`` and ``?``, anchored, case-insensitive.

    Use ``.fullmatch()``; every other character is literal.
    """
    parts = [".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in glob]
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def object_glob_for_reference(glob: str) -> str:
    """A tag-name glob that every object with an attribute matching ``glob`` (``Tag.Attr``) matches.

    Tag names hold no dot, so the tag is the text before the first dot of the
    reference; a ``*`` before the pattern's first dot may swallow dots, so from
    the first ``*`` on anything goes.
    """
    head = glob.split(".", 1)[0]
    star = head.find("*")
    return head if star < 0 else head[:star] + "*"
