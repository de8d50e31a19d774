"""What to publish: tag lists, attribute globs and templates, resolved through the Galaxy.

The Galaxy hierarchy also gives every tag its place in the namespace (the areas
above its object) and its data type. A tag named explicitly that the Galaxy does
not describe is still published, under ``{prefix}/{object}/{attribute}``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from mxgateway.bridge.config import PublishConfig
from mxgateway.bridge.topics import TagInfo
from mxgateway.galaxy import GalaxyRepositoryClient, glob_matcher
from mxgateway.generated import galaxy_repository_pb2 as gr

__all__ = ["resolve_tags", "tags_from_objects"]

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


def tags_from_objects(config: PublishConfig, objects: Sequence[gr.GalaxyObject]) -> list[TagInfo]:
    """The tags the configuration selects from these Galaxy objects, in config order, without repeats."""
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
            )
            by_reference[info.tag.lower()] = info

    def add(info: TagInfo) -> None:
        infos.setdefault(info.tag, info)

    for tag in config.tags:
        known = by_reference.get(tag.lower())
        if known is None:
            _log.warning("%s is not in the Galaxy: published without its area", tag)
        add(known or TagInfo.bare(tag))
    for glob in config.globs:
        pattern = glob_matcher(glob)
        found = [info for ref, info in by_reference.items() if pattern.fullmatch(ref)]
        if not found:
            _log.warning("the glob %s matches no attribute", glob)
        for info in found:
            add(info)
    for template in config.templates:
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
            _log.warning("the template %s matches no attribute", template)
    return list(infos.values())


async def resolve_tags(config: PublishConfig, galaxy: GalaxyRepositoryClient) -> list[TagInfo]:
    """Read the Galaxy hierarchy and select the configured tags."""
    objects = await galaxy.discover_hierarchy(include_attributes=True)
    return tags_from_objects(config, [obj.raw for obj in objects])
