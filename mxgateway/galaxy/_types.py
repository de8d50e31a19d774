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
    """Shared behaviour: immutable, equal when the raw messages are, not hashable.

    Built by one plain assignment (a walk makes one per object): every public
    field is a read-only property over the private ``_raw`` slot, so assigning one
    (or a new attribute) raises ``AttributeError`` without a frozen ``__setattr__``,
    which would cost each construction an ``object.__setattr__`` per slot.
    """

    __slots__ = ("_raw",)

    _raw: Any

    @property
    def raw(self) -> Any:
        """The message as the Galaxy Repository sent it."""
        return self._raw

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return bool(self._raw == other._raw)

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        # The message as bytes: the generated classes cannot be pickled by reference.
        return _restored, (type(self), type(self._raw).__name__, self._raw.SerializeToString())

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


def _restored(view_type: type[_View], message_name: str, data: bytes) -> _View:
    view = view_type.__new__(view_type)
    view._raw = getattr(gr, message_name).FromString(data)
    return view


class GalaxyAttribute(_View):
    """One attribute of a Galaxy object (``raw`` is the ``GalaxyAttribute`` message)."""

    __slots__ = ()

    _raw: gr.GalaxyAttribute

    def __init__(self, raw: gr.GalaxyAttribute) -> None:
        self._raw = raw

    @property
    def raw(self) -> gr.GalaxyAttribute:
        """The ``GalaxyAttribute`` message as received."""
        return self._raw

    @property
    def attribute_name(self) -> str:
        """The attribute's name within its object (``Level``)."""
        return self._raw.attribute_name

    @property
    def tag(self) -> str:
        """The tag to read, write or subscribe (``Tank_001.Level``)."""
        return self._raw.full_tag_reference

    @property
    def data_type(self) -> DataType:
        """The MXAccess data type (``DataType.DOUBLE``)."""
        return DataType.from_native(self._raw.mx_data_type)

    @property
    def mx_data_type(self) -> int:
        """The native MXAccess type number as the Galaxy reports it (``data_type`` names it)."""
        return self._raw.mx_data_type

    @property
    def data_type_name(self) -> str:
        """The Galaxy's own name of the type (``Double``), else the ``DataType`` name."""
        return self._raw.data_type_name or self.data_type.name

    @property
    def is_array(self) -> bool:
        """True for an array attribute."""
        return self._raw.is_array

    @property
    def array_dimension(self) -> int:
        """The array's length (0 for a scalar)."""
        return self._raw.array_dimension

    @property
    def security_classification(self) -> int:
        """The MXAccess security classification (0 free access ... 6 view only)."""
        return self._raw.security_classification

    @property
    def mx_attribute_category(self) -> int:
        """The MXAccess attribute category number."""
        return self._raw.mx_attribute_category

    @property
    def primitive_name(self) -> str:
        """The primitive that holds the attribute ('' for the object's own)."""
        return self._raw.primitive_name

    @property
    def is_historized(self) -> bool:
        """True when the historian stores the attribute."""
        return self._raw.is_historized

    @property
    def is_alarm(self) -> bool:
        """True when the attribute bears an alarm."""
        return self._raw.is_alarm

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

    _raw: gr.GalaxyObject
    #: Left empty until ``attributes`` is first read.
    _attributes: tuple[GalaxyAttribute, ...]

    def __init__(self, raw: gr.GalaxyObject) -> None:
        self._raw = raw

    @property
    def raw(self) -> gr.GalaxyObject:
        """The ``GalaxyObject`` message as received."""
        return self._raw

    @property
    def gobject_id(self) -> int:
        """The Galaxy's id of the object."""
        return self._raw.gobject_id

    @property
    def tag_name(self) -> str:
        """The object's unique tag name (``Tank_001``)."""
        return self._raw.tag_name

    @property
    def contained_name(self) -> str:
        """The name within its container (``Tank1``)."""
        return self._raw.contained_name

    @property
    def contained_path(self) -> str:
        """The path of contained names (``WaterPlant/Intake/Tank1``)."""
        return self._raw.contained_path

    @property
    def parent_gobject_id(self) -> int:
        """The parent's id (0 for a root)."""
        return self._raw.parent_gobject_id

    @property
    def area_gobject_id(self) -> int:
        """The id of the area the object belongs to (0 for none)."""
        return self._raw.area_gobject_id

    @property
    def category_id(self) -> int:
        """The Galaxy category id (13 is an area)."""
        return self._raw.category_id

    @property
    def is_area(self) -> bool:
        """True for an area."""
        return self._raw.is_area

    @property
    def template_chain(self) -> tuple[str, ...]:
        """The templates it derives from, nearest first."""
        return tuple(self._raw.template_chain)

    @property
    def template(self) -> str:
        """The nearest template ('' when none)."""
        chain = self._raw.template_chain
        return chain[0] if chain else ""

    @property
    def attributes(self) -> tuple[GalaxyAttribute, ...]:
        """The object's attributes (empty when they were not requested); a table in Jupyter."""
        try:
            return self._attributes
        except AttributeError:
            attributes = self._attributes = display.TableTuple(map(GalaxyAttribute, self._raw.attributes))
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
        count = len(self._raw.attributes)
        if count:
            parts.append(f"{count} attribute{'s' if count > 1 else ''}")
        return f"GalaxyObject({', '.join(parts)})"

    def _repr_html_(self) -> str:
        return display.galaxy_object_html(self)
