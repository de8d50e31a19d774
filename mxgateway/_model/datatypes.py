"""``DataType``: the MXAccess data types by name, so no caller needs the generated enum.

Two numberings exist. The gateway contract's ``MxDataType`` (a value's
``data_type``: ``DOUBLE`` is 5) and the native MXAccess numbers the Galaxy
Repository reports in ``GalaxyAttribute.mx_data_type`` (``MxDouble`` is 4, one
less). ``DataType`` members carry the contract numbers; ``DataType.from_native``
converts a Galaxy number.
"""

from __future__ import annotations

import enum

__all__ = ["DataType"]


class DataType(enum.IntEnum):
    """An MXAccess data type (values are the gateway contract's ``MxDataType`` numbers)."""

    UNSPECIFIED = 0
    NO_DATA = 1
    BOOLEAN = 2
    INTEGER = 3
    FLOAT = 4
    DOUBLE = 5
    STRING = 6
    TIME = 7
    ELAPSED_TIME = 8
    REFERENCE = 9
    STATUS = 10
    DATA_TYPE_ENUM = 11
    SECURITY_CLASSIFICATION_ENUM = 12
    DATA_QUALITY = 13
    QUALIFIED_ENUM = 14
    QUALIFIED_STRUCT = 15
    INTERNATIONALIZED_STRING = 16
    BIG_STRING = 17

    @classmethod
    def of(cls, number: int) -> DataType:
        """The member for a contract number (``UNSPECIFIED`` for one this SDK does not know)."""
        try:
            return cls(number)
        except ValueError:
            return cls.UNSPECIFIED

    @classmethod
    def from_native(cls, number: int) -> DataType:
        """The member for a native MXAccess number (``GalaxyAttribute.mx_data_type``)."""
        return cls.of(number + 1) if number >= 0 else cls.UNSPECIFIED

    @property
    def native(self) -> int:
        """The native MXAccess number (-1 for ``UNSPECIFIED``)."""
        return int(self) - 1

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"DataType.{self.name}"
