"""The simulator's Galaxy model: objects, attributes, value schedules and the Galaxy file format.

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

import base64
import datetime as dt
import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMAT_NAME = "mxgateway-galaxy"
FORMAT_VERSION = 1

#: Native MXAccess data type numbers and their names.
MX_NO_DATA = 0
MX_BOOLEAN = 1
MX_INTEGER = 2
MX_FLOAT = 3
MX_DOUBLE = 4
MX_STRING = 5
MX_TIME = 6
MX_ELAPSED_TIME = 7
MX_REFERENCE = 8
MX_STATUS = 9
MX_DATA_TYPE_ENUM = 10
MX_SECURITY_CLASSIFICATION_ENUM = 11
MX_DATA_QUALITY = 12
MX_QUALIFIED_ENUM = 13
MX_QUALIFIED_STRUCT = 14
MX_INTERNATIONALIZED_STRING = 15
MX_BIG_STRING = 16

DATA_TYPE_NAMES: dict[int, str] = {
    MX_NO_DATA: "NoData",
    MX_BOOLEAN: "Boolean",
    MX_INTEGER: "Integer",
    MX_FLOAT: "Float",
    MX_DOUBLE: "Double",
    MX_STRING: "String",
    MX_TIME: "Time",
    MX_ELAPSED_TIME: "ElapsedTime",
    MX_REFERENCE: "Reference",
    MX_STATUS: "Status",
    MX_DATA_TYPE_ENUM: "DataTypeEnum",
    MX_SECURITY_CLASSIFICATION_ENUM: "SecurityClassificationEnum",
    MX_DATA_QUALITY: "DataQuality",
    MX_QUALIFIED_ENUM: "QualifiedEnum",
    MX_QUALIFIED_STRUCT: "QualifiedStruct",
    MX_INTERNATIONALIZED_STRING: "InternationalizedString",
    MX_BIG_STRING: "BigString",
}

#: ArchestrA security classifications (GalaxyAttribute.security_classification).
SECURITY_FREE_ACCESS = 0
SECURITY_OPERATE = 1
SECURITY_SECURED_WRITE = 2
SECURITY_VERIFIED_WRITE = 3
SECURITY_TUNE = 4
SECURITY_CONFIGURE = 5
SECURITY_VIEW_ONLY = 6

#: Galaxy category of an area object.
CATEGORY_AREA = 13
CATEGORY_APPLICATION_OBJECT = 10
CATEGORY_ENGINE = 3

#: Python value of a simulated attribute: scalar, or a list for an array.
Value = bool | int | float | str | dt.datetime | dt.timedelta | bytes | list[Any] | None

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


class GalaxyFormatError(ValueError):
    """A Galaxy file that does not follow the format."""


@dataclass(frozen=True)
class Simulation:
    """How an attribute's value changes on its own, as a function of elapsed seconds.

    Kinds: ``ramp`` (``start``, ``rate`` per second, wrapping within ``low``..``high``),
    ``sine`` (``center``, ``amplitude``, ``period_s``), ``toggle`` (``period_s``),
    ``counter`` (``start``, ``step`` per tick, ``period_s``), ``static``.
    """

    kind: str = "static"
    params: dict[str, float] = field(default_factory=dict)

    def value_at(self, elapsed_s: float, data_type: int, initial: Value) -> Value:
        """The deterministic value at ``elapsed_s`` seconds after the schedule started."""
        p = self.params
        if self.kind == "sine":
            raw = p.get("center", 0.0) + p.get("amplitude", 1.0) * math.sin(
                2 * math.pi * elapsed_s / p.get("period_s", 60.0)
            )
        elif self.kind == "ramp":
            low, high = p.get("low", 0.0), p.get("high", 100.0)
            span = high - low or 1.0
            raw = low + (p.get("start", low) - low + p.get("rate", 1.0) * elapsed_s) % span
        elif self.kind == "toggle":
            return int(elapsed_s // p.get("period_s", 5.0)) % 2 == 1
        elif self.kind == "counter":
            raw = p.get("start", 0.0) + p.get("step", 1.0) * int(elapsed_s // p.get("period_s", 1.0))
        else:
            return initial
        if data_type == MX_INTEGER:
            return round(raw)
        if data_type == MX_FLOAT:
            return round(raw, 3)
        if data_type == MX_DOUBLE:
            return round(raw, 6)
        return initial

    def to_json(self) -> dict[str, Any]:
        """The ``simulation`` object of the Galaxy file."""
        return {"kind": self.kind, **self.params}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Simulation:
        """Parse the ``simulation`` object of the Galaxy file."""
        kind = str(data.get("kind", "static"))
        if kind not in {"static", "ramp", "sine", "toggle", "counter"}:
            raise GalaxyFormatError(f"unknown simulation kind {kind!r}")
        return cls(kind, {k: float(v) for k, v in data.items() if k != "kind"})


#: Alarm types the simulator evaluates: limits on analog values, a state on discrete ones.
ALARM_TYPES = ("HiHi", "Hi", "Lo", "LoLo", "DSC")


@dataclass(frozen=True)
class AlarmDefinition:
    """An alarm condition of an attribute, as a Galaxy file declares it.

    ``alarm_type`` is ``HiHi`` or ``Hi`` (active at or above ``limit``), ``Lo`` or
    ``LoLo`` (at or below ``limit``), or ``DSC`` (active while a discrete value
    differs from ``normal``). ``severity`` 0 means the type's default.
    """

    alarm_type: str
    limit: float | None = None
    severity: int = 0
    category: str = ""
    description: str = ""
    normal: bool = False

    def to_json(self) -> dict[str, Any]:
        """The entry of the attribute's ``alarms`` list."""
        data: dict[str, Any] = {"type": self.alarm_type}
        if self.limit is not None:
            data["limit"] = self.limit
        for name in ("severity", "category", "description", "normal"):
            value = getattr(self, name)
            if value:
                data[name] = value
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AlarmDefinition:
        """Parse one entry of an attribute's ``alarms`` list."""
        alarm_type = str(data.get("type", ""))
        if alarm_type not in ALARM_TYPES:
            raise GalaxyFormatError(f"unknown alarm type {alarm_type!r} (known: {', '.join(ALARM_TYPES)})")
        limit = data.get("limit")
        if limit is None and alarm_type != "DSC":
            raise GalaxyFormatError(f"a {alarm_type} alarm needs a limit")
        return cls(
            alarm_type,
            float(limit) if limit is not None else None,
            int(data.get("severity", 0)),
            str(data.get("category", "")),
            str(data.get("description", "")),
            bool(data.get("normal", False)),
        )


@dataclass
class GalaxyAttribute:
    """One attribute of a Galaxy object, with the simulator's value behaviour."""

    attribute_name: str
    mx_data_type: int
    full_tag_reference: str = ""
    data_type_name: str = ""
    is_array: bool = False
    array_dimension: int = 0
    security_classification: int = SECURITY_OPERATE
    mx_attribute_category: int = 0
    primitive_name: str = ""
    is_historized: bool = False
    is_alarm: bool = False
    initial_value: Value = None
    simulation: Simulation | None = None
    alarms: list[AlarmDefinition] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.data_type_name:
            self.data_type_name = DATA_TYPE_NAMES.get(self.mx_data_type, str(self.mx_data_type))
        if self.initial_value is None:
            self.initial_value = default_value(self.mx_data_type, self.is_array, self.array_dimension)

    @property
    def is_secured(self) -> bool:
        """A plain Write is refused: the attribute needs WriteSecured."""
        return self.security_classification in (SECURITY_SECURED_WRITE, SECURITY_VERIFIED_WRITE)

    @property
    def needs_verifier(self) -> bool:
        """A verified write: WriteSecured needs a second (verifier) user."""
        return self.security_classification == SECURITY_VERIFIED_WRITE

    @property
    def is_writable(self) -> bool:
        """View-only attributes refuse every write."""
        return self.security_classification != SECURITY_VIEW_ONLY


@dataclass
class GalaxyObject:
    """A deployed object: an area, an engine or an application object."""

    gobject_id: int
    tag_name: str
    contained_name: str = ""
    contained_path: str = ""
    parent_gobject_id: int = 0
    area_gobject_id: int = 0
    category_id: int = CATEGORY_APPLICATION_OBJECT
    is_area: bool = False
    template_chain: list[str] = field(default_factory=list)
    attributes: list[GalaxyAttribute] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.contained_name:
            self.contained_name = self.tag_name
        for attribute in self.attributes:
            if not attribute.full_tag_reference:
                attribute.full_tag_reference = f"{self.tag_name}.{attribute.attribute_name}"


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
            "time_of_last_deploy": _format_time(self.time_of_last_deploy),
            "objects": [_object_to_json(o) for o in self.objects],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Galaxy:
        """Build a Galaxy from the dict of a Galaxy file."""
        if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
            raise GalaxyFormatError(f"not a Galaxy file: 'format' must be {FORMAT_NAME!r}")
        if data.get("version") != FORMAT_VERSION:
            raise GalaxyFormatError(f"unsupported Galaxy file version {data.get('version')!r}")
        try:
            objects = [_object_from_json(o) for o in data.get("objects", [])]
            deployed = data.get("time_of_last_deploy")
            return cls(
                objects,
                name=str(data.get("name", "galaxy")),
                time_of_last_deploy=_parse_time(deployed) if deployed else None,
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
        return cls.from_json(data)


def default_value(data_type: int, is_array: bool = False, dimension: int = 0) -> Value:
    """The value an attribute of this type holds before anything is written."""
    if is_array:
        return [default_value(data_type) for _ in range(dimension)]
    if data_type == MX_BOOLEAN:
        return False
    if data_type in (MX_INTEGER, MX_DATA_TYPE_ENUM, MX_SECURITY_CLASSIFICATION_ENUM, MX_DATA_QUALITY):
        return 0
    if data_type in (MX_FLOAT, MX_DOUBLE):
        return 0.0
    if data_type in (MX_STRING, MX_REFERENCE, MX_INTERNATIONALIZED_STRING, MX_BIG_STRING):
        return ""
    if data_type == MX_TIME:
        return EPOCH
    if data_type == MX_ELAPSED_TIME:
        return dt.timedelta(0)
    if data_type in (MX_QUALIFIED_STRUCT, MX_STATUS, MX_QUALIFIED_ENUM):
        return b""
    return None


def _format_time(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def _parse_time(text: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed


def value_to_json(value: Value) -> Any:
    """The JSON form of a simulated value (see the module docstring)."""
    if isinstance(value, dt.datetime):
        return _format_time(value)
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, list):
        return [value_to_json(v) for v in value]
    return value


def value_from_json(data: Any, data_type: int, is_array: bool) -> Value:
    """Parse the JSON form of a value of ``data_type``."""
    if data is None:
        return None
    if is_array:
        if not isinstance(data, list):
            raise GalaxyFormatError("an array attribute needs a list as initial_value")
        return [value_from_json(v, data_type, False) for v in data]
    if data_type == MX_BOOLEAN:
        return bool(data)
    if data_type in (MX_INTEGER, MX_DATA_TYPE_ENUM, MX_SECURITY_CLASSIFICATION_ENUM, MX_DATA_QUALITY):
        return int(data)
    if data_type in (MX_FLOAT, MX_DOUBLE):
        return float(data)
    if data_type == MX_TIME:
        return _parse_time(str(data))
    if data_type == MX_ELAPSED_TIME:
        return dt.timedelta(seconds=float(data))
    if data_type in (MX_QUALIFIED_STRUCT, MX_STATUS, MX_QUALIFIED_ENUM):
        return base64.b64decode(str(data))
    return str(data)


_ATTRIBUTE_FIELDS = (
    "attribute_name",
    "full_tag_reference",
    "mx_data_type",
    "data_type_name",
    "is_array",
    "array_dimension",
    "security_classification",
    "mx_attribute_category",
    "primitive_name",
    "is_historized",
    "is_alarm",
)
_OBJECT_FIELDS = (
    "gobject_id",
    "tag_name",
    "contained_name",
    "contained_path",
    "parent_gobject_id",
    "area_gobject_id",
    "category_id",
    "is_area",
    "template_chain",
)


def _attribute_to_json(attribute: GalaxyAttribute) -> dict[str, Any]:
    data = {name: getattr(attribute, name) for name in _ATTRIBUTE_FIELDS}
    data["initial_value"] = value_to_json(attribute.initial_value)
    if attribute.simulation is not None:
        data["simulation"] = attribute.simulation.to_json()
    if attribute.alarms:
        data["alarms"] = [alarm.to_json() for alarm in attribute.alarms]
    return data


def _object_to_json(obj: GalaxyObject) -> dict[str, Any]:
    data: dict[str, Any] = {name: getattr(obj, name) for name in _OBJECT_FIELDS}
    data["template_chain"] = list(obj.template_chain)
    data["attributes"] = [_attribute_to_json(a) for a in obj.attributes]
    return data


def _attribute_from_json(data: dict[str, Any]) -> GalaxyAttribute:
    # protobuf JSON omits defaults, so every field but the name is optional.
    data_type = int(data.get("mx_data_type", MX_NO_DATA))
    is_array = bool(data.get("is_array", False))
    simulation = data.get("simulation")
    return GalaxyAttribute(
        attribute_name=str(data["attribute_name"]),
        mx_data_type=data_type,
        full_tag_reference=str(data.get("full_tag_reference", "")),
        data_type_name=str(data.get("data_type_name", "")),
        is_array=is_array,
        array_dimension=int(data.get("array_dimension", 0)),
        security_classification=int(data.get("security_classification", 0)),
        mx_attribute_category=int(data.get("mx_attribute_category", 0)),
        primitive_name=str(data.get("primitive_name", "")),
        is_historized=bool(data.get("is_historized", False)),
        is_alarm=bool(data.get("is_alarm", False)),
        initial_value=value_from_json(data.get("initial_value"), data_type, is_array),
        simulation=Simulation.from_json(simulation) if simulation else None,
        alarms=[AlarmDefinition.from_json(a) for a in data.get("alarms", [])],
    )


def _object_from_json(data: dict[str, Any]) -> GalaxyObject:
    return GalaxyObject(
        gobject_id=int(data["gobject_id"]),
        tag_name=str(data["tag_name"]),
        contained_name=str(data.get("contained_name", "")),
        contained_path=str(data.get("contained_path", "")),
        parent_gobject_id=int(data.get("parent_gobject_id", 0)),
        area_gobject_id=int(data.get("area_gobject_id", 0)),
        category_id=int(data.get("category_id", CATEGORY_APPLICATION_OBJECT)),
        is_area=bool(data.get("is_area", False)),
        template_chain=[str(t) for t in data.get("template_chain", [])],
        attributes=[_attribute_from_json(a) for a in data.get("attributes", [])],
    )
