"""Binary and protobuf-JSON round trips of populated contract messages."""

from __future__ import annotations

import pytest
from google.protobuf import json_format
from google.protobuf.message import Message

from mxgateway.generated import galaxy_repository_pb2 as gr
from mxgateway.generated import mxaccess_gateway_pb2 as pb


def _command_reply() -> pb.MxCommandReply:
    reply = pb.MxCommandReply(
        session_id="session-0123456789abcdef0123456789abcdef",
        correlation_id="corr-7",
        kind=pb.MX_COMMAND_KIND_READ_BULK,
        protocol_status=pb.ProtocolStatus(
            code=pb.PROTOCOL_STATUS_CODE_MXACCESS_FAILURE, message="1 of 2 failed"
        ),
        hresult=-2147467259,
        diagnostic_message="partial",
        statuses=[
            pb.MxStatusProxy(
                success=0,
                category=pb.MX_STATUS_CATEGORY_CONFIGURATION_ERROR,
                detected_by=pb.MX_STATUS_SOURCE_RESPONDING_LMX,
                detail=1003,
                raw_category=4,
                raw_detected_by=1,
                diagnostic_text="unknown tag",
            )
        ],
    )
    good = reply.bulk_read.results.add(tag_address="Tank_001.Level", item_handle=3, was_successful=True)
    good.was_cached = True
    good.quality = 192
    good.value.data_type = pb.MX_DATA_TYPE_DOUBLE
    good.value.variant_type = pb.VT_R8
    good.value.double_value = 42.5
    good.source_timestamp.FromSeconds(1_700_000_000)
    bad = reply.bulk_read.results.add(
        tag_address="Nope.Level", was_successful=False, error_message="not found"
    )
    bad.statuses.add(success=0, category=pb.MX_STATUS_CATEGORY_CONFIGURATION_ERROR, detail=1003)
    bad.value.data_type = pb.MX_DATA_TYPE_INTEGER
    bad.value.array_value.element_data_type = pb.MX_DATA_TYPE_INTEGER
    bad.value.array_value.elements.add(int32_value=1)
    bad.value.array_value.elements.add(int64_value=2**40)
    return reply


def _gap_event() -> pb.MxEvent:
    event = pb.MxEvent(
        session_id="session-x",
        family=pb.MX_EVENT_FAMILY_UNSPECIFIED,
        worker_sequence=0,
        replay_gap=pb.ReplayGap(requested_after_sequence=5, oldest_available_sequence=1200),
    )
    event.gateway_receive_timestamp.FromMilliseconds(1_700_000_000_123)
    return event


def _deploy_event() -> gr.DeployEvent:
    event = gr.DeployEvent(
        sequence=3, time_of_last_deploy_present=True, object_count=120, attribute_count=900
    )
    event.time_of_last_deploy.FromSeconds(1_700_000_000)
    event.observed_at.FromNanoseconds(1_700_000_001_000_000_500)
    return event


@pytest.mark.parametrize("build", [_command_reply, _gap_event, _deploy_event])
def test_binary_round_trip(build: object) -> None:
    original: Message = build()  # type: ignore[operator]
    data = original.SerializeToString()
    copy = type(original)()
    copy.ParseFromString(data)
    assert copy == original
    assert data  # a populated message serializes to bytes


@pytest.mark.parametrize("build", [_command_reply, _gap_event, _deploy_event])
def test_json_round_trip(build: object) -> None:
    original: Message = build()  # type: ignore[operator]
    text = json_format.MessageToJson(original)
    copy = json_format.Parse(text, type(original)())
    assert copy == original


def test_json_uses_contract_names() -> None:
    as_dict = json_format.MessageToDict(_command_reply(), preserving_proto_field_name=True)
    assert as_dict["protocol_status"]["code"] == "PROTOCOL_STATUS_CODE_MXACCESS_FAILURE"
    assert as_dict["statuses"][0]["category"] == "MX_STATUS_CATEGORY_CONFIGURATION_ERROR"
    assert as_dict["bulk_read"]["results"][0]["value"]["double_value"] == 42.5
    assert as_dict["bulk_read"]["results"][1]["value"]["array_value"]["elements"][1]["int64_value"] == str(
        2**40
    )


def test_gap_sentinel_keeps_presence() -> None:
    copy = pb.MxEvent()
    copy.ParseFromString(_gap_event().SerializeToString())
    assert copy.HasField("replay_gap")
    assert copy.WhichOneof("body") is None
    assert not copy.HasField("hresult")
    assert copy.replay_gap.oldest_available_sequence == 1200
    assert not pb.MxEvent().HasField("replay_gap")
