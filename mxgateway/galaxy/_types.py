"""Typed Galaxy results: immutable views of the Galaxy Repository's objects and attributes.

``GalaxyObject`` and ``GalaxyAttribute`` read their fields from the protobuf
message they wrap (``raw``) on access, so a large hierarchy costs little more
than its messages; their reprs are one short line instead of the message's text
format, and their data types are ``DataType`` names instead of numbers.
"""

from __future__ import annotations

from typing import Any

from mxgateway._model import display
from mxgateway._model.datatypes import DataType
from mxgateway.generated import galaxy_repository_pb2 as gr

__all__ = ["GalaxyAttribute", "GalaxyObject"]

#: The category id of an area.
AREA_CATEGORY = 13


class _View:
    """Shared behaviour: immutable, equal when the raw messages are, not hashable."""

    __slots__ = ("raw",)

    raw: Any

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: cannot set {name!r}")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return bool(self.raw == other.raw)

    __hash__ = None  # type: ignore[assignment]

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


class GalaxyAttribute(_View):
    """One attribute of a Galaxy object (``raw`` is the ``GalaxyAttribute`` message)."""

    __slots__ = ()

    raw: gr.GalaxyAttribute

    def __init__(self, raw: gr.GalaxyAttribute) -> None:
        object.__setattr__(self, "raw", raw)

    @property
    def attribute_name(self) -> str:
        """The attribute's name within its object (``Level``)."""
        return self.raw.attribute_name

    @property
    def tag(self) -> str:
        """The tag to read, write or subscribe (``Tank_001.Level``)."""
        return self.raw.full_tag_reference

    @property
    def data_type(self) -> DataType:
        """The MXAccess data type (``DataType.DOUBLE``)."""
        return DataType.from_native(self.raw.mx_data_type)

    @property
    def mx_data_type(self) -> int:
        """The native MXAccess type number as the Galaxy reports it (``data_type`` names it)."""
        return self.raw.mx_data_type

    @property
    def data_type_name(self) -> str:
        """The Galaxy's own name of the type (``Double``), else the ``DataType`` name."""
        return self.raw.data_type_name or self.data_type.name

    @property
    def is_array(self) -> bool:
        """True for an array attribute."""
        return self.raw.is_array

    @property
    def array_dimension(self) -> int:
        """The array's length (0 for a scalar)."""
        return self.raw.array_dimension

    @property
    def security_classification(self) -> int:
        """The MXAccess security classification (0 free access ... 6 view only)."""
        return self.raw.security_classification

    @property
    def mx_attribute_category(self) -> int:
        """The MXAccess attribute category number."""
        return self.raw.mx_attribute_category

    @property
    def primitive_name(self) -> str:
        """The primitive that holds the attribute ('' for the object's own)."""
        return self.raw.primitive_name

    @property
    def is_historized(self) -> bool:
        """True when the historian stores the attribute."""
        return self.raw.is_historized

    @property
    def is_alarm(self) -> bool:
        """True when the attribute bears an alarm."""
        return self.raw.is_alarm

    @property
    def flags(self) -> tuple[str, ...]:
        """``"array[N]"``, ``"historized"``, ``"alarm"``: the flags that are set."""
        raw = self.raw
        shown = []
        if raw.is_array:
            shown.append(f"array[{raw.array_dimension}]")
        if raw.is_historized:
            shown.append("historized")
        if raw.is_alarm:
            shown.append("alarm")
        return tuple(shown)

    def __repr__(self) -> str:
        shown = ", ".join((self.data_type_name, *self.flags))
        return f"GalaxyAttribute({self.tag or self.attribute_name}: {shown})"


class GalaxyObject(_View):
    """One object of the Galaxy (``raw`` is the ``GalaxyObject`` message).

    ``attributes`` are ``GalaxyAttribute`` views; ``attribute(name)`` finds one.
    """

    __slots__ = ("_attributes",)

    raw: gr.GalaxyObject
    _attributes: tuple[GalaxyAttribute, ...] | None

    def __init__(self, raw: gr.GalaxyObject) -> None:
        object.__setattr__(self, "raw", raw)
        object.__setattr__(self, "_attributes", None)

    @property
    def gobject_id(self) -> int:
        """The Galaxy's id of the object."""
        return self.raw.gobject_id

    @property
    def tag_name(self) -> str:
        """The object's unique tag name (``Tank_001``)."""
        return self.raw.tag_name

    @property
    def contained_name(self) -> str:
        """The name within its container (``Tank1``)."""
        return self.raw.contained_name

    @property
    def contained_path(self) -> str:
        """The path of contained names (``WaterPlant/Intake/Tank1``)."""
        return self.raw.contained_path

    @property
    def parent_gobject_id(self) -> int:
        """The parent's id (0 for a root)."""
        return self.raw.parent_gobject_id

    @property
    def area_gobject_id(self) -> int:
        """The id of the area the object belongs to (0 for none)."""
        return self.raw.area_gobject_id

    @property
    def category_id(self) -> int:
        """The Galaxy category id (13 is an area)."""
        return self.raw.category_id

    @property
    def is_area(self) -> bool:
        """True for an area."""
        return self.raw.is_area

    @property
    def template_chain(self) -> tuple[str, ...]:
        """The templates it derives from, nearest first."""
        return tuple(self.raw.template_chain)

    @property
    def template(self) -> str:
        """The nearest template ('' when none)."""
        chain = self.raw.template_chain
        return chain[0] if chain else ""

    @property
    def attributes(self) -> tuple[GalaxyAttribute, ...]:
        """The object's attributes (empty when they were not requested); a table in Jupyter."""
        attributes = self._attributes
        if attributes is None:
            attributes = display.TableTuple(map(GalaxyAttribute, self.raw.attributes))
            object.__setattr__(self, "_attributes", attributes)
        return attributes

    def attribute(self, name: str) -> GalaxyAttribute:
        """The attribute called ``name`` (``KeyError`` when the object has none such)."""
        for attribute in self.attributes:
            if attribute.attribute_name == name:
                return attribute
        raise KeyError(f"{self.tag_name} has no attribute {name!r}")

    def __repr__(self) -> str:
        parts = [self.tag_name, f"id={self.gobject_id}"]
        if self.template:
            parts.append(self.template)
        count = len(self.raw.attributes)
        if count:
            parts.append(f"{count} attribute{'s' if count > 1 else ''}")
        return f"GalaxyObject({', '.join(parts)})"

    def _repr_html_(self) -> str:
        return display.galaxy_object_html(self)
