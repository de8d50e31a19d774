"""Properties: redaction never leaks a secret, and sequence-gap accounting adds up."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mxgateway import DataChange, EventsDropped
from mxgateway._events.queue import EventConsumer
from mxgateway.errors import REDACTED, redact
from mxgateway.generated import mxaccess_gateway_pb2 as pb

secrets = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=8, max_size=40)
noise = st.text(max_size=60)


@given(secret=secrets, before=noise, after=noise, repeat=st.integers(1, 3))
def test_a_long_secret_never_survives_redaction(secret: str, before: str, after: str, repeat: int) -> None:
    text = before + (secret + after) * repeat
    redacted = redact(text, [secret])
    assert secret not in redacted
    assert REDACTED in redacted


@given(secret=st.from_regex(r"[A-Za-z0-9]{3,7}", fullmatch=True), words=st.lists(noise, max_size=4))
def test_a_short_secret_is_removed_as_a_word_and_text_around_it_survives(
    secret: str, words: list[str]
) -> None:
    text = " ".join([*words, secret, "end"])
    redacted = redact(text, [secret])
    assert f" {secret} " not in f" {redacted} "
    assert redacted.endswith("end")


@given(
    secret=st.from_regex(r"[!-~]{3,40}", fullmatch=True),
    flips=st.lists(st.booleans(), min_size=40, max_size=40),
    before=noise,
)
def test_a_secret_echoed_in_another_letter_case_never_survives_redaction(
    secret: str, flips: list[bool], before: str
) -> None:
    # API keys are printable ASCII; a gateway may echo one upper-cased, lower-cased or mixed.
    echoed = "".join(c.swapcase() if flip else c for c, flip in zip(secret, flips, strict=False))
    redacted = redact(f"{before} {echoed} end", [secret])
    assert redacted.endswith(f" {REDACTED} end")


@given(text=noise)
def test_redaction_without_secrets_changes_nothing(text: str) -> None:
    assert redact(text, []) == text
    assert redact(text, [None, ""]) == text


def event(sequence: int) -> DataChange:
    return DataChange(pb.MxEvent(family=pb.MX_EVENT_FAMILY_ON_DATA_CHANGE, worker_sequence=sequence))


@settings(max_examples=60, deadline=None)
@given(capacity=st.integers(1, 20), total=st.integers(0, 80), reads=st.lists(st.integers(0, 5), max_size=30))
def test_a_consumer_accounts_for_every_event_it_sheds(capacity: int, total: int, reads: list[int]) -> None:
    """Whatever the interleaving of offers and reads, delivered + dropped == offered, in order."""

    async def run() -> None:
        consumer = EventConsumer(capacity)
        delivered: list[int] = []
        dropped = 0
        offered = 0
        schedule = iter(reads)
        while offered < total:
            consumer.offer(offered, event(offered + 1))
            offered += 1
            for _ in range(next(schedule, 0)):
                if not consumer.queued:
                    break  # nothing to read: get() would wait (a shed marker only comes with a full queue)
                item = await asyncio.wait_for(consumer.get(), 1)
                if isinstance(item, EventsDropped):
                    dropped += item.count
                    assert item.first_sequence <= item.last_sequence
                    assert not delivered or item.first_sequence > delivered[-1]
                else:
                    assert isinstance(item, DataChange)
                    delivered.append(item.worker_sequence)
        consumer.end()
        for _ in range(total + 2):
            item = await asyncio.wait_for(consumer.get(), 1)
            if item is None:
                break
            if isinstance(item, EventsDropped):
                dropped += item.count
            else:
                assert isinstance(item, DataChange)
                delivered.append(item.worker_sequence)
        assert delivered == sorted(delivered)
        assert len(delivered) + dropped == total
        assert len(set(delivered)) == len(delivered)

    asyncio.run(run())


@pytest.mark.parametrize("capacity", [1, 3])
def test_the_newest_events_survive_an_overflow(capacity: int) -> None:
    async def run() -> list[object]:
        consumer = EventConsumer(capacity)
        for index in range(10):
            consumer.offer(index, event(index + 1))
        consumer.end()
        return [await consumer.get() for _ in range(capacity + 2)]

    items = asyncio.run(run())
    assert items[0] == EventsDropped(10 - capacity, 1, 10 - capacity)
    assert [i.worker_sequence for i in items[1 : capacity + 1]] == list(range(11 - capacity, 11))  # type: ignore[union-attr]
    assert items[-1] is None
