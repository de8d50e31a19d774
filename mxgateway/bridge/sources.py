"""What to publish: tag lists, attribute globs and templates, resolved through the Galaxy.

The Galaxy hierarchy also gives every tag its place in the namespace (the areas
above its object), its data type and its security classification. A tag named
explicitly that the Galaxy does not describe is still published, under
``{prefix}/{object}/{attribute}``; a glob or template that matches nothing is a
configuration mistake.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from mxgateway import DataType, GalaxyRepositoryClient
from mxgateway.bridge.config import BridgeConfig, sparkplug_id_problem
from mxgateway.bridge.topics import TagInfo
from mxgateway.galaxy import glob_matcher
from mxgateway.generated import galaxy_repository_pb2 as gr

__all__ = ["Selection", "resolve_tags", "tags_from_objects"]

_log = logging.getLogger("mxgateway.bridge")


def _area_paths(objects: Sequence[gr.GalaxyObject]) -> dict[int, tuple[str, ...]]:
    """Gobject id -> the names of the areas above the object, outermost first."""
    by_id = {o.gobject_id: o for o in objects}
    paths: dict[int, tuple[str, ...]] = {}

    def area_path(area_id: int, depth: int = 0) -> tuple[str, ...]:
        if area_id == 0 or area_id not in by_id or depth > 64:
            return ()
        area = by_id[area_id]
        parent = area.area_gobject_id if area.area_gobject_id != area_id else 0
        return (*area_path(parent, depth + 1), area.tag_name)

    for obj in objects:
        own = obj.area_gobject_id if obj.area_gobject_id != obj.gobject_id else 0
        paths[obj.gobject_id] = area_path(own)
    return paths


def _template_matches(chain: Iterable[str], template: str) -> bool:
    wanted = template.lstrip("$").lower()
    return any(name.lstrip("$").lower() == wanted for name in chain)


@dataclass(frozen=True)
class Selection:
    """The tags a configuration selects, and the area path of every object of the Galaxy."""

    tags: list[TagInfo]
    areas: dict[str, tuple[str, ...]] = field(default_factory=dict)


def tags_from_objects(config: BridgeConfig, objects: Sequence[gr.GalaxyObject]) -> Selection:
    """The tags the configuration selects from these Galaxy objects, in config order, without repeats.

    A glob or template that matches nothing is a ``ConfigError`` naming its line.
    """
    publish = config.publish
    paths = _area_paths(objects)
    infos: dict[str, TagInfo] = {}
    by_reference: dict[str, TagInfo] = {}
    for obj in objects:
        for attribute in obj.attributes:
            info = TagInfo(
                tag=attribute.full_tag_reference,
                object=obj.tag_name,
                attribute=attribute.attribute_name,
                area_path=paths.get(obj.gobject_id, ()),
                data_type=attribute.data_type_name,
                mx_data_type=DataType.from_native(attribute.mx_data_type),
                is_array=attribute.is_array,
                security=attribute.security_classification,
            )
            by_reference[info.tag.lower()] = info

    def add(info: TagInfo) -> None:
        infos.setdefault(info.tag, info)

    for tag in publish.tags:
        known = by_reference.get(tag.lower())
        if known is None:
            _log.warning("%s is not in the Galaxy: published without its area", tag)
        add(known or TagInfo.bare(tag))
    for glob in publish.globs:
        pattern = glob_matcher(glob)
        found = [info for ref, info in by_reference.items() if pattern.fullmatch(ref)]
        if not found:
            raise config.error("publish", "globs", f"{glob!r} matches no attribute of the Galaxy")
        for info in found:
            add(info)
    for template in publish.templates:
        # "$Tank" selects every attribute of objects derived from $Tank; "$Tank.Level" one of them.
        name, _, attribute_glob = template.partition(".")
        attribute_pattern = glob_matcher(attribute_glob or "*")
        matched = 0
        for obj in objects:
            if not _template_matches(obj.template_chain, name):
                continue
            for attribute in obj.attributes:
                if attribute_pattern.fullmatch(attribute.attribute_name):
                    add(by_reference[attribute.full_tag_reference.lower()])
                    matched += 1
        if not matched:
            raise config.error("publish", "templates", f"{template!r} matches no attribute of the Galaxy")
    areas = {obj.tag_name: paths.get(obj.gobject_id, ()) for obj in objects}
    tags = list(infos.values())
    if config.sparkplug:
        _check_device_ids(config, tags)
    return Selection(tags, areas)


def _check_device_ids(config: BridgeConfig, tags: Sequence[TagInfo]) -> None:
    """Each Galaxy object is a Sparkplug device: its name must be a valid, unique device id."""
    seen: dict[str, str] = {}
    for info in tags:
        problem = sparkplug_id_problem(info.object)
        if problem is not None:
            key = (
                "tags"
                if info.tag in config.publish.tags
                else "globs"
                if config.publish.globs
                else "templates"
            )
            raise config.error("publish", key, f"{info.tag}: its object is a Sparkplug device id: {problem}")
        other = seen.setdefault(info.object.lower(), info.object)
        if other != info.object:
            _log.warning(
                "the devices %s and %s differ only in letter case, which some Sparkplug hosts cannot tell apart",
                other,
                info.object,
            )


async def resolve_tags(config: BridgeConfig, galaxy: GalaxyRepositoryClient) -> Selection:
    """Read the Galaxy hierarchy and select the configured tags."""
    objects = await galaxy.discover_hierarchy(include_attributes=True)
    return tags_from_objects(config, [obj.raw for obj in objects])
