"""What a Galaxy Repository request selects: its filters, its root or parent, the walk and the reply objects."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import grpc

from mxgateway.generated import galaxy_repository_pb2 as gr
from mxgateway.simulator.galaxy import Galaxy, GalaxyObject
from mxgateway.simulator.galaxy_objects import ATTRIBUTE_FIELDS, OBJECT_FIELDS

__all__ = [
    "Deployment",
    "Filters",
    "RequestError",
    "browse_order",
    "wants_attributes",
    "object_to_proto",
    "resolve_object",
    "walk",
]


class RequestError(Exception):
    """A request the service refuses, with the gRPC status to answer."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self.code = code
        self.details = details


@dataclass
class Deployment:
    """One deployed state of the Galaxy; replaced as a whole on every deploy."""

    galaxy: Galaxy
    version: int
    _by_path: dict[str, GalaxyObject] | None = field(default=None, repr=False)

    def find_by_path(self, path: str) -> GalaxyObject | None:
        """The object at a contained path (case-insensitive, surrounding slashes ignored)."""
        if self._by_path is None:
            self._by_path = {o.contained_path.casefold(): o for o in self.galaxy.objects}
        return self._by_path.get(path.strip("/").casefold())


@dataclass(frozen=True)
class Filters:
    """The object filters shared by DiscoverHierarchy and BrowseChildren."""

    category_ids: frozenset[int]
    template_needles: tuple[str, ...]
    tag_pattern: re.Pattern[str] | None
    alarm_bearing_only: bool
    historized_only: bool

    @classmethod
    def from_request(cls, request: gr.DiscoverHierarchyRequest | gr.BrowseChildrenRequest) -> Filters:
        """The filters a request names."""
        return cls(
            category_ids=frozenset(request.category_ids),
            template_needles=tuple(sorted({n.casefold() for n in request.template_chain_contains if n})),
            tag_pattern=_compile_glob(request.tag_name_glob) if request.tag_name_glob else None,
            alarm_bearing_only=request.alarm_bearing_only,
            historized_only=request.historized_only,
        )

    def key(self) -> list[Any]:
        """A canonical, JSON-ready form: equal filters give equal keys."""
        return [
            sorted(self.category_ids),
            list(self.template_needles),
            self.tag_pattern.pattern if self.tag_pattern else None,
            self.alarm_bearing_only,
            self.historized_only,
        ]

    def matches(self, obj: GalaxyObject) -> bool:
        """Whether ``obj`` passes every filter."""
        if self.category_ids and obj.category_id not in self.category_ids:
            return False
        if self.template_needles and not any(
            needle in template.casefold()
            for template in obj.template_chain
            for needle in self.template_needles
        ):
            return False
        if self.tag_pattern is not None and self.tag_pattern.fullmatch(obj.tag_name) is None:
            return False
        if self.alarm_bearing_only and not any(a.is_alarm for a in obj.attributes):
            return False
        return not (self.historized_only and not any(a.is_historized for a in obj.attributes))


def _compile_glob(glob: str) -> re.Pattern[str]:
    # fnmatch would also honour [...] classes, which the contract does not define.
    parts = [".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in glob]
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def wants_attributes(request: gr.DiscoverHierarchyRequest | gr.BrowseChildrenRequest) -> bool:
    """Whether the reply carries the objects' attributes (the default when the field is unset)."""
    return request.include_attributes if request.HasField("include_attributes") else True


def resolve_object(
    deployment: Deployment, role: str, kind: str | None, value: int | str | None
) -> GalaxyObject | None:
    """The object a request's ``root``/``parent`` oneof names (``role``), None for none or 0.

    ``kind`` is the oneof's set field (``root_gobject_id``, ``parent_tag_name`` ...)
    and ``value`` its value; an unknown object is NOT_FOUND.
    """
    if kind is None or value is None:
        return None
    how = kind.removeprefix(f"{role}_")
    galaxy = deployment.galaxy
    if how == "gobject_id":
        if value == 0:
            return None
        found = galaxy.by_id.get(int(value))
        what = f"gobject_id {value}"
    elif how == "tag_name":
        found = galaxy.by_tag.get(str(value).lower())
        what = f"tag name {value!r}"
    else:
        found = deployment.find_by_path(str(value))
        what = f"contained path {value!r}"
    if found is None:
        raise RequestError(grpc.StatusCode.NOT_FOUND, f"{role} object not found: no object with {what}")
    return found


def walk(galaxy: Galaxy, start: GalaxyObject | None, max_depth: int | None) -> Iterator[GalaxyObject]:
    """Galaxy.walk order (parents before children), not descending below ``max_depth``."""
    stack: list[tuple[GalaxyObject, int]] = (
        [(start, 0)] if start is not None else [(o, 0) for o in reversed(galaxy.roots)]
    )
    while stack:
        obj, depth = stack.pop()
        yield obj
        if max_depth is None or depth < max_depth:
            stack.extend((child, depth + 1) for child in reversed(galaxy.children.get(obj.gobject_id, [])))


def browse_order(obj: GalaxyObject) -> tuple[bool, str, int]:
    """BrowseChildren's order: areas first, then by contained name."""
    return (not obj.is_area, obj.contained_name.casefold(), obj.gobject_id)


def object_to_proto(obj: GalaxyObject, with_attributes: bool) -> gr.GalaxyObject:
    """The reply form of an object, with its attributes or without."""
    # The simulator's objects carry the message fields by the same names.
    reply = gr.GalaxyObject(**{name: getattr(obj, name) for name in OBJECT_FIELDS})
    if with_attributes:
        reply.attributes.extend(
            gr.GalaxyAttribute(**{name: getattr(a, name) for name in ATTRIBUTE_FIELDS})
            for a in obj.attributes
        )
    return reply
