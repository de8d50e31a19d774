"""The simulator's Galaxy: its objects by id, tag name and reference, and the Galaxy file format.

The parts (objects, attributes, value schedules, alarm definitions) are in
``mxgateway.simulator.galaxy_objects``, the data types and value forms in
``mxgateway.simulator.galaxy_values``; the model's names stay importable from here.

A Galaxy file is JSON::

    {
      "format": "mxgateway-galaxy",
      "version": 1,
      "name": "demo-water-plant",
      "time_of_last_deploy": "2026-01-01T00:00:00Z",      (or null: never deployed)
      "objects": [
        {"gobject_id": 1, "tag_name": "WaterPlant", "contained_name": "WaterPlant",
         "contained_path": "WaterPlant", "parent_gobject_id": 0, "area_gobject_id": 0,
         "category_id": 13, "is_area": true, "template_chain": ["$Area"],
         "attributes": [
           {"attribute_name": "Level", "full_tag_reference": "Tank_001.Level",
            "mx_data_type": 4, "data_type_name": "Double", "is_array": false,
            "array_dimension": 0, "security_classification": 0,
            "mx_attribute_category": 0, "primitive_name": "", "is_historized": true,
            "is_alarm": false,
            "initial_value": 50.0,                           (optional)
            "simulation": {"kind": "sine", "center": 50, "amplitude": 20, "period_s": 60},
            "alarms": [{"type": "Hi", "limit": 65, "severity": 600}]}     (optional)
         ]}
      ]
    }

Object and attribute keys are the field names of ``galaxy_repository.v1.GalaxyObject``
and ``GalaxyAttribute``, so the protobuf-JSON of a real gateway's hierarchy
(``preserving_proto_field_name``) is a valid object list: a Galaxy exported from a
plant can be served offline. ``initial_value`` and ``simulation`` are the simulator's
own additions and are optional; an attribute without them holds its type's default
value until written. ``alarms`` (also optional) declares the alarm conditions of an
alarm-flagged attribute (see ``AlarmDefinition``); without it the simulator's alarm
monitor derives limits from the attribute's schedule. Objects are listed parents before children.

``mx_data_type`` is the native MXAccess data type number (MxNoData = 0, MxBoolean = 1,
... MxBigString = 16), that is the ``MxDataType`` enum value of the gateway contract
minus one. Values in ``initial_value`` use JSON forms: numbers, strings, booleans,
ISO-8601 strings for Time, seconds (a number) for ElapsedTime, base64 for records and
lists for arrays.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from mxgateway.simulator.galaxy_objects import (
    ALARM_TYPES,
    AlarmDefinition,
    GalaxyAttribute,
    GalaxyObject,
    Simulation,
    object_from_json,
    object_to_json,
)
from mxgateway.simulator.galaxy_values import (
    CATEGORY_APPLICATION_OBJECT,
    CATEGORY_AREA,
    CATEGORY_ENGINE,
    DATA_TYPE_NAMES,
    EPOCH,
    MX_BIG_STRING,
    MX_BOOLEAN,
    MX_DATA_QUALITY,
    MX_DATA_TYPE_ENUM,
    MX_DOUBLE,
    MX_ELAPSED_TIME,
    MX_FLOAT,
    MX_INTEGER,
    MX_INTERNATIONALIZED_STRING,
    MX_NO_DATA,
    MX_QUALIFIED_ENUM,
    MX_QUALIFIED_STRUCT,
    MX_REFERENCE,
    MX_SECURITY_CLASSIFICATION_ENUM,
    MX_STATUS,
    MX_STRING,
    MX_TIME,
    SECURITY_CONFIGURE,
    SECURITY_FREE_ACCESS,
    SECURITY_OPERATE,
    SECURITY_SECURED_WRITE,
    SECURITY_TUNE,
    SECURITY_VERIFIED_WRITE,
    SECURITY_VIEW_ONLY,
    GalaxyFormatError,
    Value,
    default_value,
    format_time,
    parse_time,
    value_from_json,
    value_to_json,
)

__all__ = [
    "ALARM_TYPES",
    "CATEGORY_APPLICATION_OBJECT",
    "CATEGORY_AREA",
    "CATEGORY_ENGINE",
    "DATA_TYPE_NAMES",
    "EPOCH",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MX_BIG_STRING",
    "MX_BOOLEAN",
    "MX_DATA_QUALITY",
    "MX_DATA_TYPE_ENUM",
    "MX_DOUBLE",
    "MX_ELAPSED_TIME",
    "MX_FLOAT",
    "MX_INTEGER",
    "MX_INTERNATIONALIZED_STRING",
    "MX_NO_DATA",
    "MX_QUALIFIED_ENUM",
    "MX_QUALIFIED_STRUCT",
    "MX_REFERENCE",
    "MX_SECURITY_CLASSIFICATION_ENUM",
    "MX_STATUS",
    "MX_STRING",
    "MX_TIME",
    "SECURITY_CONFIGURE",
    "SECURITY_FREE_ACCESS",
    "SECURITY_OPERATE",
    "SECURITY_SECURED_WRITE",
    "SECURITY_TUNE",
    "SECURITY_VERIFIED_WRITE",
    "SECURITY_VIEW_ONLY",
    "AlarmDefinition",
    "Galaxy",
    "GalaxyAttribute",
    "GalaxyFormatError",
    "GalaxyObject",
    "Simulation",
    "Value",
    "default_value",
    "value_from_json",
    "value_to_json",
]

FORMAT_NAME = "mxgateway-galaxy"
FORMAT_VERSION = 1


class Galaxy:
    """An in-memory Galaxy: objects by id and tag name, attributes by tag reference."""

    def __init__(
        self,
        objects: Iterable[GalaxyObject],
        *,
        name: str = "galaxy",
        time_of_last_deploy: dt.datetime | None = None,
    ) -> None:
        self.name = name
        self.time_of_last_deploy = time_of_last_deploy
        self.objects: list[GalaxyObject] = []
        self.by_id: dict[int, GalaxyObject] = {}
        self.by_tag: dict[str, GalaxyObject] = {}
        self.children: dict[int, list[GalaxyObject]] = {}
        self.attributes: dict[str, GalaxyAttribute] = {}
        for obj in objects:
            self._add(obj)

    def _add(self, obj: GalaxyObject) -> None:
        if obj.gobject_id in self.by_id:
            raise GalaxyFormatError(f"duplicate gobject_id {obj.gobject_id}")
        if obj.tag_name.lower() in self.by_tag:
            raise GalaxyFormatError(f"duplicate tag_name {obj.tag_name!r}")
        if obj.parent_gobject_id and obj.parent_gobject_id not in self.by_id:
            raise GalaxyFormatError(f"{obj.tag_name!r} is listed before its parent {obj.parent_gobject_id}")
        if not obj.contained_path:
            parent = self.by_id.get(obj.parent_gobject_id)
            obj.contained_path = (
                f"{parent.contained_path}/{obj.contained_name}" if parent else obj.contained_name
            )
        self.objects.append(obj)
        self.by_id[obj.gobject_id] = obj
        self.by_tag[obj.tag_name.lower()] = obj
        self.children.setdefault(obj.parent_gobject_id, []).append(obj)
        for attribute in obj.attributes:
            self.attributes[attribute.full_tag_reference.lower()] = attribute

    @property
    def roots(self) -> list[GalaxyObject]:
        """Objects without a parent."""
        return self.children.get(0, [])

    @property
    def attribute_count(self) -> int:
        """Number of attributes over all objects."""
        return len(self.attributes)

    def find_attribute(self, reference: str) -> tuple[GalaxyAttribute, int | None] | None:
        """Resolve a tag reference; ``Obj.Attr[3]`` addresses one 1-based array element.

        Returns the attribute and the element index (None for the whole attribute,
        and for ``Obj.Attr[]``), or None when the Galaxy has no such attribute.
        """
        ref = reference.strip()
        index: int | None = None
        if ref.endswith("]") and "[" in ref:
            base, _, inside = ref[:-1].rpartition("[")
            ref = base
            if inside:
                if not inside.isdigit() or int(inside) < 1:
                    return None
                index = int(inside)
        attribute = self.attributes.get(ref.lower())
        if attribute is None:
            return None
        if index is not None and (not attribute.is_array or index > attribute.array_dimension):
            return None
        return attribute, index

    def walk(self, root: GalaxyObject | None = None) -> Iterator[tuple[GalaxyObject, int]]:
        """Depth-first, parents before children, with each object's depth below the start."""
        stack: list[tuple[GalaxyObject, int]] = (
            [(root, 0)] if root else [(o, 0) for o in reversed(self.roots)]
        )
        while stack:
            obj, depth = stack.pop()
            yield obj, depth
            stack.extend((c, depth + 1) for c in reversed(self.children.get(obj.gobject_id, [])))

    # ------------------------------------------------------------------ file format

    def to_json(self) -> dict[str, Any]:
        """The Galaxy file as a JSON-ready dict."""
        return {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "name": self.name,
            "time_of_last_deploy": format_time(self.time_of_last_deploy),
            "objects": [object_to_json(o) for o in self.objects],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Galaxy:
        """Build a Galaxy from the dict of a Galaxy file."""
        if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
            raise GalaxyFormatError(f"not a Galaxy file: 'format' must be {FORMAT_NAME!r}")
        if data.get("version") != FORMAT_VERSION:
            raise GalaxyFormatError(f"unsupported Galaxy file version {data.get('version')!r}")
        try:
            objects = [object_from_json(o) for o in data.get("objects", [])]
            deployed = data.get("time_of_last_deploy")
            return cls(
                objects,
                name=str(data.get("name", "galaxy")),
                time_of_last_deploy=parse_time(deployed) if deployed else None,
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, GalaxyFormatError):
                raise
            raise GalaxyFormatError(f"invalid Galaxy file: {exc}") from exc

    def save(self, path: str | Path) -> None:
        """Write the Galaxy file (sorted keys, so that equal Galaxies give equal files)."""
        Path(path).write_text(json.dumps(self.to_json(), indent=1, sort_keys=True) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> Galaxy:
        """Read a Galaxy file."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise GalaxyFormatError(f"{path}: not JSON: {exc}") from exc
        except UnicodeDecodeError as exc:
            raise GalaxyFormatError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
        except RecursionError:
            raise GalaxyFormatError(f"{path}: nested too deeply to be a Galaxy file") from None
        return cls.from_json(data)
