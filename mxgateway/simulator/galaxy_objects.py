"""The parts of a Galaxy: objects, their attributes, value schedules and alarm definitions.

Each part converts to and from its entry in the Galaxy file (``mxgateway.simulator.galaxy``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from mxgateway.simulator.galaxy_values import (
    CATEGORY_APPLICATION_OBJECT,
    DATA_TYPE_NAMES,
    MX_DOUBLE,
    MX_FLOAT,
    MX_INTEGER,
    MX_NO_DATA,
    SECURITY_OPERATE,
    SECURITY_SECURED_WRITE,
    SECURITY_VERIFIED_WRITE,
    SECURITY_VIEW_ONLY,
    GalaxyFormatError,
    Value,
    default_value,
    value_from_json,
    value_to_json,
)


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


#: The fields of an attribute and of an object that are those of
#: ``galaxy_repository.v1.GalaxyAttribute`` and ``GalaxyObject``, by the same names.
ATTRIBUTE_FIELDS = (
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
OBJECT_FIELDS = (
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
    data = {name: getattr(attribute, name) for name in ATTRIBUTE_FIELDS}
    data["initial_value"] = value_to_json(attribute.initial_value)
    if attribute.simulation is not None:
        data["simulation"] = attribute.simulation.to_json()
    if attribute.alarms:
        data["alarms"] = [alarm.to_json() for alarm in attribute.alarms]
    return data


def object_to_json(obj: GalaxyObject) -> dict[str, Any]:
    """The entry of the Galaxy file's ``objects`` list, attributes included."""
    data: dict[str, Any] = {name: getattr(obj, name) for name in OBJECT_FIELDS}
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


def object_from_json(data: dict[str, Any]) -> GalaxyObject:
    """Parse one entry of the Galaxy file's ``objects`` list."""
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
