"""Keeping secrets out of text: the gateway's words may echo an API key or a password.

``redact`` replaces every secret in a text, in any letter case; ``redact_message``
does the same for every text field of a protobuf message (a reply kept on an error).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import TypeVar

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

__all__ = ["REDACTED", "mentions_secret", "redact", "redact_message"]

MessageT = TypeVar("MessageT", bound=Message)

REDACTED = "<redacted>"

#: Secrets at least this long are removed wherever they appear; shorter ones only
#: as whole words, so that a short password does not turn every "a" of a message
#: into a marker (which would garble it and hint at the password).
_SUBSTRING_REDACTION_MIN = 8


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every secret replaced by ``<redacted>`` (longest first, never inside a marker).

    Letter case does not matter: a gateway that echoes a key in capitals echoes it all the same.
    """
    # A blank "secret" hides nothing, and redacting it would garble every space.
    for secret in sorted((s for s in secrets if s and not s.isspace()), key=len, reverse=True):
        if len(secret) >= _SUBSTRING_REDACTION_MIN:
            pattern = re.escape(secret)
        else:
            pattern = rf"(?<![\w-]){re.escape(secret)}(?![\w-])"
        if re.search(pattern, text, re.IGNORECASE) is None:
            continue
        text = REDACTED.join(
            re.sub(pattern, REDACTED, part, flags=re.IGNORECASE) for part in text.split(REDACTED)
        )
    return text


def mentions_secret(text: str, secrets: Iterable[str | None]) -> bool:
    """True when ``text`` holds any of ``secrets`` anywhere, in any letter case."""
    folded = text.casefold()
    return any(secret and secret.casefold() in folded for secret in secrets)


def redact_message(message: MessageT, secrets: Iterable[str | None]) -> MessageT:
    """``message`` itself when no text field of it holds a secret, else a copy with them redacted.

    For a reply kept on an error: its texts are the gateway's own words, which may echo a key.
    """
    wanted = tuple(s for s in secrets if s and not s.isspace())
    if not wanted or not _message_mentions(message, wanted):
        return message
    copy = type(message)()
    copy.CopyFrom(message)
    _redact_fields(copy, wanted)
    return copy


def _is_map(field: FieldDescriptor) -> bool:
    entry = field.message_type
    return entry is not None and entry.GetOptions().map_entry


def _message_texts(message: Message) -> Iterator[str]:
    for field, value in message.ListFields():
        if field.type == field.TYPE_STRING:
            yield from (value if field.is_repeated else (value,))
        elif field.type == field.TYPE_MESSAGE:
            if _is_map(field):
                value = value.values()
            for item in value if field.is_repeated else (value,):
                if isinstance(item, Message):
                    yield from _message_texts(item)
                elif isinstance(item, str):
                    yield item


def _message_mentions(message: Message, secrets: tuple[str, ...]) -> bool:
    return any(mentions_secret(text, secrets) for text in _message_texts(message))


def _redact_fields(message: Message, secrets: tuple[str, ...]) -> None:
    for field, value in message.ListFields():
        if field.type == field.TYPE_STRING:
            if field.is_repeated:
                value[:] = [redact(text, secrets) for text in value]
            else:
                setattr(message, field.name, redact(value, secrets))
        elif field.type == field.TYPE_MESSAGE:
            if _is_map(field):
                for key in list(value):
                    if isinstance(value[key], Message):
                        _redact_fields(value[key], secrets)
                    elif isinstance(value[key], str):
                        value[key] = redact(value[key], secrets)
                continue
            for item in value if field.is_repeated else (value,):
                _redact_fields(item, secrets)
