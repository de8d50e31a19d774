"""Plain-dict forms of Galaxy Repository messages and the writer of Galaxy files.

A Galaxy file (format ``"mxgateway-galaxy"``, version 1) is what the embedded
simulator serves: a JSON document with ``format``, ``version``, ``name``,
``time_of_last_deploy`` (ISO-8601 UTC or null) and ``objects``, parents before
children, whose keys are the field names of ``galaxy_repository.v1.GalaxyObject``
and ``GalaxyAttribute``. Exporting a real gateway's hierarchy into one lets the
simulator serve that Galaxy offline. The format is written here, from the
contract, so that the client never depends on the simulator.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from mxgateway.errors import MxGatewayArgumentError
from mxgateway.generated import galaxy_repository_pb2 as gr

__all__ = [
    "GALAXY_FILE_FORMAT",
    "GALAXY_FILE_VERSION",
    "GalaxyFileWriter",
    "attribute_to_dict",
    "check_target",
    "format_time",
    "object_to_dict",
    "to_dict",
]

GALAXY_FILE_FORMAT = "mxgateway-galaxy"
GALAXY_FILE_VERSION = 1

_UTC = dt.timezone.utc
#: The temporary file beside the target is named ``.NAME.XXXXXXXX.tmp``: this much longer.
_TEMP_NAME_EXTRA = 14
#: The longest file name common file systems take, in bytes.
_NAME_MAX = 255


def check_target(path: Path) -> None:
    """Raise ``MxGatewayArgumentError`` naming ``path`` when no Galaxy file can be written there.

    Checked before the first request: an export of a large Galaxy should not fail
    at its end for a folder that does not exist.
    """
    shown = str(path)
    if path.is_dir():
        raise MxGatewayArgumentError(f"path {shown!r} is a folder: name the file to write", argument="path")
    if not path.parent.is_dir():
        raise MxGatewayArgumentError(
            f"path {shown!r}: the folder {str(path.parent)!r} does not exist", argument="path"
        )
    if len(os.fsencode(path.name)) > _NAME_MAX - _TEMP_NAME_EXTRA:
        raise MxGatewayArgumentError(
            f"path {shown[:60]!r}...: the file name must be at most {_NAME_MAX - _TEMP_NAME_EXTRA} bytes"
            " (the temporary file written beside it needs the rest)",
            argument="path",
        )


def format_time(value: dt.datetime | None) -> str | None:
    """ISO-8601 in UTC with a ``Z`` suffix (None stays None), as Galaxy files write times."""
    if value is None:
        return None
    return value.astimezone(_UTC).isoformat().replace("+00:00", "Z")


def _timestamp(message: Any, field: str, present: bool) -> str | None:
    if not present:
        return None
    value: dt.datetime = getattr(message, field).ToDatetime(tzinfo=_UTC)
    return format_time(value)


def attribute_to_dict(attribute: gr.GalaxyAttribute) -> dict[str, Any]:
    """Every field of a ``GalaxyAttribute``, keyed by its proto field name."""
    # Spelled out rather than json_format: an export of 100,000 objects goes
    # through here, and explicit fields are several times faster.
    return {
        "attribute_name": attribute.attribute_name,
        "full_tag_reference": attribute.full_tag_reference,
        "mx_data_type": attribute.mx_data_type,
        "data_type_name": attribute.data_type_name,
        "is_array": attribute.is_array,
        "array_dimension": attribute.array_dimension,
        "security_classification": attribute.security_classification,
        "mx_attribute_category": attribute.mx_attribute_category,
        "primitive_name": attribute.primitive_name,
        "is_historized": attribute.is_historized,
        "is_alarm": attribute.is_alarm,
    }


def object_to_dict(obj: gr.GalaxyObject) -> dict[str, Any]:
    """Every field of a ``GalaxyObject`` (attributes included), keyed by proto field name."""
    return {
        "gobject_id": obj.gobject_id,
        "tag_name": obj.tag_name,
        "contained_name": obj.contained_name,
        "contained_path": obj.contained_path,
        "parent_gobject_id": obj.parent_gobject_id,
        "area_gobject_id": obj.area_gobject_id,
        "category_id": obj.category_id,
        "is_area": obj.is_area,
        "template_chain": list(obj.template_chain),
        "attributes": [attribute_to_dict(a) for a in obj.attributes],
    }


def _deploy_event_to_dict(event: gr.DeployEvent) -> dict[str, Any]:
    return {
        "sequence": event.sequence,
        "time_of_last_deploy": _timestamp(event, "time_of_last_deploy", event.time_of_last_deploy_present),
        "object_count": event.object_count,
        "attribute_count": event.attribute_count,
        "observed_at": _timestamp(event, "observed_at", event.HasField("observed_at")),
    }


def to_dict(message: Any) -> dict[str, Any]:
    """A plain, JSON-ready dict of a Galaxy object, attribute (either as a view or a message) or deploy event.

    Keys are the proto field names and every field is present (defaults too).
    Times of a deploy event are ISO-8601 UTC strings, or None when absent
    (``time_of_last_deploy_present`` is folded into ``time_of_last_deploy``).
    """
    # Typed views (GalaxyObject, GalaxyAttribute) carry their message as ``raw``.
    message = getattr(message, "raw", message)
    if isinstance(message, gr.GalaxyObject):
        return object_to_dict(message)
    if isinstance(message, gr.GalaxyAttribute):
        return attribute_to_dict(message)
    if isinstance(message, gr.DeployEvent):
        return _deploy_event_to_dict(message)
    raise TypeError(
        f"to_dict takes a GalaxyObject, GalaxyAttribute or DeployEvent, not {type(message).__name__}"
    )


class GalaxyFileWriter:
    """Writes a Galaxy file object by object, so that no more than a page is held.

    The file appears under its name only on ``commit()``: it is written to a
    temporary file next to it and renamed, so a failed or abandoned export never
    leaves a truncated Galaxy file behind. A context manager: leaving it without
    ``commit()`` discards the temporary file.
    """

    def __init__(self, path: str | Path, *, name: str, time_of_last_deploy: dt.datetime | None) -> None:
        self._path = Path(path)
        self._name = name
        self._time_of_last_deploy = time_of_last_deploy
        self._file: IO[str] | None = None
        self._temp: Path | None = None
        self._count = 0

    @property
    def path(self) -> Path:
        """Where the file goes."""
        return self._path

    @property
    def count(self) -> int:
        """Objects written so far."""
        return self._count

    def _open(self) -> IO[str]:
        if self._file is None:
            fd, temp = tempfile.mkstemp(prefix=f".{self._path.name}.", suffix=".tmp", dir=self._path.parent)
            self._temp = Path(temp)
            self._file = os.fdopen(fd, "w", encoding="utf-8", newline="\n")
            head = {
                "format": GALAXY_FILE_FORMAT,
                "version": GALAXY_FILE_VERSION,
                "name": self._name,
                "time_of_last_deploy": format_time(self._time_of_last_deploy),
            }
            # The header keys first and "objects" last, so the file streams.
            self._file.write(json.dumps(head, indent=1)[:-2] + ',\n "objects": [')
        return self._file

    def write_objects(self, objects: Iterable[gr.GalaxyObject]) -> None:
        """Append objects (parents must come before their children)."""
        out = self._open()
        dumps = json.dumps
        parts = []
        for obj in objects:
            parts.append(
                ("\n  " if self._count == 0 else ",\n  ") + dumps(object_to_dict(obj), sort_keys=True)
            )
            self._count += 1
        out.write("".join(parts))

    def commit(self) -> Path:
        """Finish the document and move it into place; returns the path."""
        out = self._open()
        out.write("\n ]\n}\n" if self._count else "]\n}\n")
        out.close()
        self._file = None
        assert self._temp is not None
        os.replace(self._temp, self._path)
        self._temp = None
        return self._path

    def discard(self) -> None:
        """Drop what was written (idempotent)."""
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._temp is not None:
            self._temp.unlink(missing_ok=True)
            self._temp = None

    def __enter__(self) -> GalaxyFileWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.discard()
