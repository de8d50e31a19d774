"""The JSON records of the tag commands' results (read, data change, item, write)."""

from __future__ import annotations

from typing import Any

__all__ = ["change_record", "item_record", "read_record", "write_record"]


def _data_type_name(data_type: int) -> str:
    from mxgateway._model.values import data_type_name

    return data_type_name(data_type)


def read_record(result: Any) -> dict[str, Any]:
    """The JSON form of a ``ReadResult``."""
    return {
        "data_type": _data_type_name(result.data_type) if result.ok else None,
        "error_message": result.error_message,
        "item_handle": result.item_handle,
        "ok": result.ok,
        "quality": int(result.quality),
        "quality_name": result.quality.name,
        "source_timestamp": result.source_timestamp,
        "tag": result.tag,
        "value": result.value,
        "was_cached": result.was_cached,
    }


def change_record(change: Any) -> dict[str, Any]:
    """The JSON form of a ``DataChange``."""
    return {
        "data_type": _data_type_name(change.data_type),
        "item_handle": change.item_handle,
        "quality": int(change.quality),
        "quality_name": change.quality.name,
        "server_handle": change.server_handle,
        "source_timestamp": change.source_timestamp,
        "tag": change.tag,
        "value": change.value,
        "worker_sequence": change.worker_sequence,
    }


def item_record(result: Any) -> dict[str, Any]:
    """The JSON form of an ``ItemResult``."""
    return {
        "error_message": result.error_message,
        "item_handle": result.item_handle,
        "ok": result.ok,
        "server_handle": result.server_handle,
        "tag": result.tag,
    }


def write_record(result: Any) -> dict[str, Any]:
    """The JSON form of a ``WriteResult``."""
    return {
        "error_message": result.error_message,
        "hresult": result.hresult,
        "item_handle": result.item_handle,
        "ok": result.ok,
    }
