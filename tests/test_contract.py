"""The wire contract of CONTRACT.md in executable form.

The tables below are transcribed from the contract, not from the generated
code; the tests compare them with the generated descriptors and fail on any
missing, extra, renamed, renumbered or retyped field, enum value or RPC.
Types: a scalar name, or a message/enum full name; "repeated " and
"optional " (proto3 explicit presence) prefixes; a fourth element names the
oneof a field belongs to.
"""

from __future__ import annotations

import pytest
from google.protobuf.descriptor import Descriptor, FieldDescriptor, FileDescriptor

from mxgateway.generated import (
    galaxy_repository_pb2,
    galaxy_repository_pb2_grpc,
    mxaccess_gateway_pb2,
    mxaccess_gateway_pb2_grpc,
    mxaccess_worker_pb2,
)

Field = tuple[str, int, str] | tuple[str, int, str, str]

MESSAGES: dict[str, list[Field]] = {
    "mxaccess_gateway.v1.ProtocolStatus": [
        ("code", 1, "mxaccess_gateway.v1.ProtocolStatusCode"),
        ("message", 2, "string"),
    ],
    "mxaccess_gateway.v1.OpenSessionRequest": [
        ("client_session_name", 1, "string"),
        ("client_correlation_id", 2, "string"),
    ],
    "mxaccess_gateway.v1.OpenSessionReply": [
        ("session_id", 1, "string"),
        ("backend_name", 2, "string"),
        ("gateway_protocol_version", 3, "uint32"),
        ("worker_protocol_version", 4, "uint32"),
        ("protocol_status", 5, "mxaccess_gateway.v1.ProtocolStatus"),
        ("lease_expires_at", 6, "google.protobuf.Timestamp"),
    ],
    "mxaccess_gateway.v1.CloseSessionRequest": [
        ("session_id", 1, "string"),
        ("client_correlation_id", 2, "string"),
    ],
    "mxaccess_gateway.v1.CloseSessionReply": [
        ("session_id", 1, "string"),
        ("final_state", 2, "mxaccess_gateway.v1.SessionState"),
        ("protocol_status", 3, "mxaccess_gateway.v1.ProtocolStatus"),
    ],
    "mxaccess_gateway.v1.MxCommandRequest": [
        ("session_id", 1, "string"),
        ("client_correlation_id", 2, "string"),
        ("command", 3, "mxaccess_gateway.v1.MxCommand"),
    ],
    "mxaccess_gateway.v1.MxCommand": [
        ("kind", 1, "mxaccess_gateway.v1.MxCommandKind"),
        ("register", 10, "mxaccess_gateway.v1.RegisterCommand", "payload"),
        ("unregister", 11, "mxaccess_gateway.v1.UnregisterCommand", "payload"),
        ("add_item", 12, "mxaccess_gateway.v1.AddItemCommand", "payload"),
        ("add_item2", 13, "mxaccess_gateway.v1.AddItem2Command", "payload"),
        ("remove_item", 14, "mxaccess_gateway.v1.RemoveItemCommand", "payload"),
        ("advise", 15, "mxaccess_gateway.v1.AdviseCommand", "payload"),
        ("advise_supervisory", 16, "mxaccess_gateway.v1.AdviseSupervisoryCommand", "payload"),
        ("unadvise", 17, "mxaccess_gateway.v1.UnAdviseCommand", "payload"),
        ("write", 18, "mxaccess_gateway.v1.WriteCommand", "payload"),
        ("write2", 19, "mxaccess_gateway.v1.Write2Command", "payload"),
        ("write_secured", 20, "mxaccess_gateway.v1.WriteSecuredCommand", "payload"),
        ("write_secured2", 21, "mxaccess_gateway.v1.WriteSecured2Command", "payload"),
        ("authenticate_user", 22, "mxaccess_gateway.v1.AuthenticateUserCommand", "payload"),
        ("drain_events", 23, "mxaccess_gateway.v1.DrainEventsCommand", "payload"),
        ("add_item_bulk", 30, "mxaccess_gateway.v1.AddItemBulkCommand", "payload"),
        ("advise_item_bulk", 31, "mxaccess_gateway.v1.AdviseItemBulkCommand", "payload"),
        ("remove_item_bulk", 32, "mxaccess_gateway.v1.RemoveItemBulkCommand", "payload"),
        ("unadvise_item_bulk", 33, "mxaccess_gateway.v1.UnAdviseItemBulkCommand", "payload"),
        ("subscribe_bulk", 34, "mxaccess_gateway.v1.SubscribeBulkCommand", "payload"),
        ("unsubscribe_bulk", 35, "mxaccess_gateway.v1.UnsubscribeBulkCommand", "payload"),
        ("read_bulk", 36, "mxaccess_gateway.v1.ReadBulkCommand", "payload"),
        ("write_bulk", 37, "mxaccess_gateway.v1.WriteBulkCommand", "payload"),
        ("write2_bulk", 38, "mxaccess_gateway.v1.Write2BulkCommand", "payload"),
        ("write_secured_bulk", 39, "mxaccess_gateway.v1.WriteSecuredBulkCommand", "payload"),
        ("write_secured2_bulk", 40, "mxaccess_gateway.v1.WriteSecured2BulkCommand", "payload"),
    ],
    "mxaccess_gateway.v1.RegisterCommand": [
        ("client_name", 1, "string"),
    ],
    "mxaccess_gateway.v1.UnregisterCommand": [
        ("server_handle", 1, "int32"),
    ],
    "mxaccess_gateway.v1.AddItemCommand": [
        ("server_handle", 1, "int32"),
        ("item_definition", 2, "string"),
    ],
    "mxaccess_gateway.v1.AddItem2Command": [
        ("server_handle", 1, "int32"),
        ("item_definition", 2, "string"),
        ("item_context", 3, "string"),
    ],
    "mxaccess_gateway.v1.RemoveItemCommand": [
        ("server_handle", 1, "int32"),
        ("item_handle", 2, "int32"),
    ],
    "mxaccess_gateway.v1.AdviseCommand": [
        ("server_handle", 1, "int32"),
        ("item_handle", 2, "int32"),
    ],
    "mxaccess_gateway.v1.AdviseSupervisoryCommand": [
        ("server_handle", 1, "int32"),
        ("item_handle", 2, "int32"),
    ],
    "mxaccess_gateway.v1.UnAdviseCommand": [
        ("server_handle", 1, "int32"),
        ("item_handle", 2, "int32"),
    ],
    "mxaccess_gateway.v1.WriteCommand": [
        ("server_handle", 1, "int32"),
        ("item_handle", 2, "int32"),
        ("value", 3, "mxaccess_gateway.v1.MxValue"),
        ("user_id", 4, "int32"),
    ],
    "mxaccess_gateway.v1.Write2Command": [
        ("server_handle", 1, "int32"),
        ("item_handle", 2, "int32"),
        ("value", 3, "mxaccess_gateway.v1.MxValue"),
        ("timestamp_value", 4, "mxaccess_gateway.v1.MxValue"),
        ("user_id", 5, "int32"),
    ],
    "mxaccess_gateway.v1.WriteSecuredCommand": [
        ("server_handle", 1, "int32"),
        ("item_handle", 2, "int32"),
        ("value", 3, "mxaccess_gateway.v1.MxValue"),
        ("current_user_id", 4, "int32"),
        ("verifier_user_id", 5, "int32"),
    ],
    "mxaccess_gateway.v1.WriteSecured2Command": [
        ("server_handle", 1, "int32"),
        ("item_handle", 2, "int32"),
        ("value", 3, "mxaccess_gateway.v1.MxValue"),
        ("timestamp_value", 4, "mxaccess_gateway.v1.MxValue"),
        ("current_user_id", 5, "int32"),
        ("verifier_user_id", 6, "int32"),
    ],
    "mxaccess_gateway.v1.AuthenticateUserCommand": [
        ("server_handle", 1, "int32"),
        ("user_name", 2, "string"),
        ("password", 3, "string"),
    ],
    "mxaccess_gateway.v1.DrainEventsCommand": [
        ("max_events", 1, "int32"),
    ],
    "mxaccess_gateway.v1.AddItemBulkCommand": [
        ("server_handle", 1, "int32"),
        ("tag_addresses", 2, "repeated string"),
    ],
    "mxaccess_gateway.v1.AdviseItemBulkCommand": [
        ("server_handle", 1, "int32"),
        ("item_handles", 2, "repeated int32"),
    ],
    "mxaccess_gateway.v1.RemoveItemBulkCommand": [
        ("server_handle", 1, "int32"),
        ("item_handles", 2, "repeated int32"),
    ],
    "mxaccess_gateway.v1.UnAdviseItemBulkCommand": [
        ("server_handle", 1, "int32"),
        ("item_handles", 2, "repeated int32"),
    ],
    "mxaccess_gateway.v1.SubscribeBulkCommand": [
        ("server_handle", 1, "int32"),
        ("tag_addresses", 2, "repeated string"),
        ("supervisory", 3, "bool"),
    ],
    "mxaccess_gateway.v1.UnsubscribeBulkCommand": [
        ("server_handle", 1, "int32"),
        ("item_handles", 2, "repeated int32"),
    ],
    "mxaccess_gateway.v1.ReadBulkCommand": [
        ("server_handle", 1, "int32"),
        ("tag_addresses", 2, "repeated string"),
        ("timeout_ms", 3, "int32"),
    ],
    "mxaccess_gateway.v1.WriteBulkEntry": [
        ("item_handle", 1, "int32"),
        ("value", 2, "mxaccess_gateway.v1.MxValue"),
        ("user_id", 3, "int32"),
    ],
    "mxaccess_gateway.v1.WriteBulkCommand": [
        ("server_handle", 1, "int32"),
        ("entries", 2, "repeated mxaccess_gateway.v1.WriteBulkEntry"),
    ],
    "mxaccess_gateway.v1.Write2BulkEntry": [
        ("item_handle", 1, "int32"),
        ("value", 2, "mxaccess_gateway.v1.MxValue"),
        ("timestamp_value", 3, "mxaccess_gateway.v1.MxValue"),
        ("user_id", 4, "int32"),
    ],
    "mxaccess_gateway.v1.Write2BulkCommand": [
        ("server_handle", 1, "int32"),
        ("entries", 2, "repeated mxaccess_gateway.v1.Write2BulkEntry"),
    ],
    "mxaccess_gateway.v1.WriteSecuredBulkEntry": [
        ("item_handle", 1, "int32"),
        ("value", 2, "mxaccess_gateway.v1.MxValue"),
        ("current_user_id", 3, "int32"),
        ("verifier_user_id", 4, "int32"),
    ],
    "mxaccess_gateway.v1.WriteSecuredBulkCommand": [
        ("server_handle", 1, "int32"),
        ("entries", 2, "repeated mxaccess_gateway.v1.WriteSecuredBulkEntry"),
    ],
    "mxaccess_gateway.v1.WriteSecured2BulkEntry": [
        ("item_handle", 1, "int32"),
        ("value", 2, "mxaccess_gateway.v1.MxValue"),
        ("timestamp_value", 3, "mxaccess_gateway.v1.MxValue"),
        ("current_user_id", 4, "int32"),
        ("verifier_user_id", 5, "int32"),
    ],
    "mxaccess_gateway.v1.WriteSecured2BulkCommand": [
        ("server_handle", 1, "int32"),
        ("entries", 2, "repeated mxaccess_gateway.v1.WriteSecured2BulkEntry"),
    ],
    "mxaccess_gateway.v1.MxCommandReply": [
        ("session_id", 1, "string"),
        ("correlation_id", 2, "string"),
        ("kind", 3, "mxaccess_gateway.v1.MxCommandKind"),
        ("protocol_status", 4, "mxaccess_gateway.v1.ProtocolStatus"),
        ("hresult", 5, "int32"),
        ("return_value", 6, "mxaccess_gateway.v1.MxValue"),
        ("statuses", 7, "repeated mxaccess_gateway.v1.MxStatusProxy"),
        ("diagnostic_message", 8, "string"),
        ("register", 20, "mxaccess_gateway.v1.RegisterReply", "payload"),
        ("add_item", 21, "mxaccess_gateway.v1.AddItemReply", "payload"),
        ("authenticate_user", 22, "mxaccess_gateway.v1.AuthenticateUserReply", "payload"),
        ("drain_events", 23, "mxaccess_gateway.v1.DrainEventsReply", "payload"),
        ("bulk_subscribe", 30, "mxaccess_gateway.v1.BulkSubscribeReply", "payload"),
        ("bulk_read", 31, "mxaccess_gateway.v1.BulkReadReply", "payload"),
        ("bulk_write", 32, "mxaccess_gateway.v1.BulkWriteReply", "payload"),
    ],
    "mxaccess_gateway.v1.RegisterReply": [
        ("server_handle", 1, "int32"),
    ],
    "mxaccess_gateway.v1.AddItemReply": [
        ("item_handle", 1, "int32"),
    ],
    "mxaccess_gateway.v1.AuthenticateUserReply": [
        ("user_id", 1, "int32"),
    ],
    "mxaccess_gateway.v1.DrainEventsReply": [
        ("events", 1, "repeated mxaccess_gateway.v1.MxEvent"),
    ],
    "mxaccess_gateway.v1.BulkSubscribeReply": [
        ("results", 1, "repeated mxaccess_gateway.v1.SubscribeResult"),
    ],
    "mxaccess_gateway.v1.SubscribeResult": [
        ("server_handle", 1, "int32"),
        ("tag_address", 2, "string"),
        ("item_handle", 3, "int32"),
        ("was_successful", 4, "bool"),
        ("error_message", 5, "string"),
    ],
    "mxaccess_gateway.v1.BulkReadReply": [
        ("results", 1, "repeated mxaccess_gateway.v1.BulkReadResult"),
    ],
    "mxaccess_gateway.v1.BulkReadResult": [
        ("tag_address", 1, "string"),
        ("item_handle", 2, "int32"),
        ("was_successful", 3, "bool"),
        ("was_cached", 4, "bool"),
        ("value", 5, "mxaccess_gateway.v1.MxValue"),
        ("quality", 6, "int32"),
        ("source_timestamp", 7, "google.protobuf.Timestamp"),
        ("statuses", 8, "repeated mxaccess_gateway.v1.MxStatusProxy"),
        ("error_message", 9, "string"),
    ],
    "mxaccess_gateway.v1.BulkWriteReply": [
        ("results", 1, "repeated mxaccess_gateway.v1.BulkWriteResult"),
    ],
    "mxaccess_gateway.v1.BulkWriteResult": [
        ("item_handle", 1, "int32"),
        ("was_successful", 2, "bool"),
        ("hresult", 3, "int32"),
        ("statuses", 4, "repeated mxaccess_gateway.v1.MxStatusProxy"),
        ("error_message", 5, "string"),
    ],
    "mxaccess_gateway.v1.MxValue": [
        ("data_type", 1, "mxaccess_gateway.v1.MxDataType"),
        ("variant_type", 2, "mxaccess_gateway.v1.VariantType"),
        ("is_null", 3, "bool"),
        ("raw_diagnostic", 4, "string"),
        ("raw_data_type", 5, "int32"),
        ("bool_value", 10, "bool", "value"),
        ("int32_value", 11, "int32", "value"),
        ("int64_value", 12, "int64", "value"),
        ("float_value", 13, "float", "value"),
        ("double_value", 14, "double", "value"),
        ("string_value", 15, "string", "value"),
        ("timestamp_value", 16, "google.protobuf.Timestamp", "value"),
        ("duration_value", 17, "google.protobuf.Duration", "value"),
        ("bytes_value", 18, "bytes", "value"),
        ("array_value", 19, "mxaccess_gateway.v1.MxArray", "value"),
    ],
    "mxaccess_gateway.v1.MxArray": [
        ("element_data_type", 1, "mxaccess_gateway.v1.MxDataType"),
        ("element_variant_type", 2, "mxaccess_gateway.v1.VariantType"),
        ("elements", 3, "repeated mxaccess_gateway.v1.MxValue"),
    ],
    "mxaccess_gateway.v1.MxStatusProxy": [
        ("success", 1, "int32"),
        ("category", 2, "mxaccess_gateway.v1.MxStatusCategory"),
        ("detected_by", 3, "mxaccess_gateway.v1.MxStatusSource"),
        ("detail", 4, "int32"),
        ("raw_category", 5, "int32"),
        ("raw_detected_by", 6, "int32"),
        ("diagnostic_text", 7, "string"),
    ],
    "mxaccess_gateway.v1.StreamEventsRequest": [
        ("session_id", 1, "string"),
        ("after_worker_sequence", 2, "uint64"),
        ("client_correlation_id", 3, "string"),
    ],
    "mxaccess_gateway.v1.MxEvent": [
        ("session_id", 1, "string"),
        ("family", 2, "mxaccess_gateway.v1.MxEventFamily"),
        ("worker_sequence", 3, "uint64"),
        ("server_handle", 4, "int32"),
        ("item_handle", 5, "int32"),
        ("value", 6, "mxaccess_gateway.v1.MxValue"),
        ("quality", 7, "int32"),
        ("source_timestamp", 8, "google.protobuf.Timestamp"),
        ("statuses", 9, "repeated mxaccess_gateway.v1.MxStatusProxy"),
        ("worker_timestamp", 10, "google.protobuf.Timestamp"),
        ("gateway_receive_timestamp", 11, "google.protobuf.Timestamp"),
        ("hresult", 12, "optional int32"),
        ("raw_status", 13, "string"),
        ("replay_gap", 14, "optional mxaccess_gateway.v1.ReplayGap"),
        ("on_data_change", 20, "mxaccess_gateway.v1.OnDataChangeEvent", "body"),
        ("on_write_complete", 21, "mxaccess_gateway.v1.OnWriteCompleteEvent", "body"),
        ("operation_complete", 22, "mxaccess_gateway.v1.OperationCompleteEvent", "body"),
        ("on_buffered_data_change", 23, "mxaccess_gateway.v1.OnBufferedDataChangeEvent", "body"),
        ("on_alarm_transition", 24, "mxaccess_gateway.v1.OnAlarmTransitionEvent", "body"),
    ],
    "mxaccess_gateway.v1.OnDataChangeEvent": [],
    "mxaccess_gateway.v1.OnWriteCompleteEvent": [],
    "mxaccess_gateway.v1.OperationCompleteEvent": [
        ("operation_id", 1, "string"),
    ],
    "mxaccess_gateway.v1.OnBufferedDataChangeEvent": [
        ("data_type", 1, "mxaccess_gateway.v1.MxDataType"),
        ("samples", 2, "repeated mxaccess_gateway.v1.BufferedSample"),
    ],
    "mxaccess_gateway.v1.BufferedSample": [
        ("value", 1, "mxaccess_gateway.v1.MxValue"),
        ("quality", 2, "int32"),
        ("source_timestamp", 3, "google.protobuf.Timestamp"),
    ],
    # Alarms (second release).
    "mxaccess_gateway.v1.StreamAlarmsRequest": [
        ("session_id", 1, "string"),
        ("client_correlation_id", 2, "string"),
        ("alarm_filter_prefix", 3, "string"),
    ],
    "mxaccess_gateway.v1.QueryActiveAlarmsRequest": [
        ("session_id", 1, "string"),
        ("client_correlation_id", 2, "string"),
        ("alarm_filter_prefix", 3, "string"),
    ],
    "mxaccess_gateway.v1.AlarmFeedMessage": [
        ("active_alarm", 1, "mxaccess_gateway.v1.ActiveAlarmSnapshot", "payload"),
        ("snapshot_complete", 2, "mxaccess_gateway.v1.AlarmSnapshotComplete", "payload"),
        ("transition", 3, "mxaccess_gateway.v1.OnAlarmTransitionEvent", "payload"),
        ("provider_status", 4, "mxaccess_gateway.v1.AlarmProviderStatus", "payload"),
    ],
    "mxaccess_gateway.v1.AlarmSnapshotComplete": [
        ("active_alarm_count", 1, "uint32"),
    ],
    "mxaccess_gateway.v1.ActiveAlarmSnapshot": [
        ("alarm_full_reference", 1, "string"),
        ("source_object_reference", 2, "string"),
        ("alarm_type_name", 3, "string"),
        ("severity", 4, "int32"),
        ("current_state", 5, "mxaccess_gateway.v1.AlarmConditionState"),
        ("original_raise_time", 6, "google.protobuf.Timestamp"),
        ("last_transition_time", 7, "google.protobuf.Timestamp"),
        ("category", 8, "string"),
        ("description", 9, "string"),
        ("current_value", 10, "mxaccess_gateway.v1.MxValue"),
        ("limit_value", 11, "mxaccess_gateway.v1.MxValue"),
        ("operator_user", 12, "string"),
        ("operator_comment", 13, "string"),
        ("degraded", 14, "bool"),
    ],
    "mxaccess_gateway.v1.OnAlarmTransitionEvent": [
        ("alarm_full_reference", 1, "string"),
        ("source_object_reference", 2, "string"),
        ("alarm_type_name", 3, "string"),
        ("severity", 4, "int32"),
        ("current_state", 5, "mxaccess_gateway.v1.AlarmConditionState"),
        ("original_raise_time", 6, "google.protobuf.Timestamp"),
        ("last_transition_time", 7, "google.protobuf.Timestamp"),
        ("category", 8, "string"),
        ("description", 9, "string"),
        ("current_value", 10, "mxaccess_gateway.v1.MxValue"),
        ("limit_value", 11, "mxaccess_gateway.v1.MxValue"),
        ("operator_user", 12, "string"),
        ("operator_comment", 13, "string"),
        ("degraded", 14, "bool"),
        ("transition_kind", 15, "mxaccess_gateway.v1.AlarmTransitionKind"),
        ("transition_time", 16, "google.protobuf.Timestamp"),
    ],
    "mxaccess_gateway.v1.AlarmProviderStatus": [
        ("mode", 1, "mxaccess_gateway.v1.AlarmProviderMode"),
        ("degraded", 2, "bool"),
        ("reason", 3, "string"),
        ("since", 4, "google.protobuf.Timestamp"),
    ],
    "mxaccess_gateway.v1.AcknowledgeAlarmRequest": [
        ("client_correlation_id", 1, "string"),
        ("alarm_full_reference", 2, "string"),
        ("comment", 3, "string"),
        ("operator_user", 4, "string"),
        ("operator_node", 5, "string"),
        ("operator_domain", 6, "string"),
        ("operator_full_name", 7, "string"),
    ],
    "mxaccess_gateway.v1.AcknowledgeAlarmReply": [
        ("protocol_status", 1, "mxaccess_gateway.v1.ProtocolStatus"),
        ("native_status", 2, "int32"),
        ("hresult", 3, "optional int32"),
    ],
    "mxaccess_gateway.v1.ReplayGap": [
        ("requested_after_sequence", 1, "uint64"),
        ("oldest_available_sequence", 2, "uint64"),
    ],
    "galaxy_repository.v1.TestConnectionRequest": [],
    "galaxy_repository.v1.TestConnectionReply": [
        ("ok", 1, "bool"),
        ("message", 2, "string"),
    ],
    "galaxy_repository.v1.GetLastDeployTimeRequest": [],
    "galaxy_repository.v1.GetLastDeployTimeReply": [
        ("time_of_last_deploy", 1, "google.protobuf.Timestamp"),
        ("time_of_last_deploy_present", 2, "bool"),
    ],
    "galaxy_repository.v1.DiscoverHierarchyRequest": [
        ("page_size", 1, "int32"),
        ("page_token", 2, "string"),
        ("root_gobject_id", 3, "int32", "root"),
        ("root_tag_name", 4, "string", "root"),
        ("root_contained_path", 5, "string", "root"),
        ("max_depth", 6, "google.protobuf.Int32Value"),
        ("category_ids", 7, "repeated int32"),
        ("template_chain_contains", 8, "repeated string"),
        ("tag_name_glob", 9, "string"),
        ("include_attributes", 10, "optional bool"),
        ("alarm_bearing_only", 11, "bool"),
        ("historized_only", 12, "bool"),
    ],
    "galaxy_repository.v1.DiscoverHierarchyReply": [
        ("objects", 1, "repeated galaxy_repository.v1.GalaxyObject"),
        ("next_page_token", 2, "string"),
        ("total_object_count", 3, "int32"),
    ],
    "galaxy_repository.v1.BrowseChildrenRequest": [
        ("parent_gobject_id", 1, "int32", "parent"),
        ("parent_tag_name", 2, "string", "parent"),
        ("parent_contained_path", 3, "string", "parent"),
        ("page_size", 4, "int32"),
        ("page_token", 5, "string"),
        ("category_ids", 6, "repeated int32"),
        ("template_chain_contains", 7, "repeated string"),
        ("tag_name_glob", 8, "string"),
        ("include_attributes", 9, "optional bool"),
        ("alarm_bearing_only", 10, "bool"),
        ("historized_only", 11, "bool"),
    ],
    "galaxy_repository.v1.BrowseChildrenReply": [
        ("children", 1, "repeated galaxy_repository.v1.GalaxyObject"),
        ("next_page_token", 2, "string"),
        ("child_has_children", 3, "repeated bool"),
    ],
    "galaxy_repository.v1.GalaxyObject": [
        ("gobject_id", 1, "int32"),
        ("tag_name", 2, "string"),
        ("contained_name", 3, "string"),
        ("contained_path", 4, "string"),
        ("parent_gobject_id", 5, "int32"),
        ("area_gobject_id", 6, "int32"),
        ("category_id", 7, "int32"),
        ("is_area", 8, "bool"),
        ("template_chain", 9, "repeated string"),
        ("attributes", 10, "repeated galaxy_repository.v1.GalaxyAttribute"),
    ],
    "galaxy_repository.v1.GalaxyAttribute": [
        ("attribute_name", 1, "string"),
        ("full_tag_reference", 2, "string"),
        ("mx_data_type", 3, "int32"),
        ("data_type_name", 4, "string"),
        ("is_array", 5, "bool"),
        ("array_dimension", 6, "int32"),
        ("security_classification", 7, "int32"),
        ("mx_attribute_category", 8, "int32"),
        ("primitive_name", 9, "string"),
        ("is_historized", 10, "bool"),
        ("is_alarm", 11, "bool"),
    ],
    "galaxy_repository.v1.WatchDeployEventsRequest": [
        ("last_seen_deploy_time", 1, "google.protobuf.Timestamp"),
    ],
    "galaxy_repository.v1.DeployEvent": [
        ("sequence", 1, "uint64"),
        ("time_of_last_deploy", 2, "google.protobuf.Timestamp"),
        ("time_of_last_deploy_present", 3, "bool"),
        ("object_count", 4, "int32"),
        ("attribute_count", 5, "int32"),
        ("observed_at", 6, "google.protobuf.Timestamp"),
    ],
    "mxaccess_worker.v1.WorkerEnvelope": [
        ("protocol_version", 1, "uint32"),
        ("session_id", 2, "string"),
        ("sequence", 3, "uint64"),
        ("correlation_id", 4, "string"),
        ("gateway_hello", 10, "mxaccess_worker.v1.GatewayHello", "body"),
        ("worker_hello", 11, "mxaccess_worker.v1.WorkerHello", "body"),
        ("worker_ready", 12, "mxaccess_worker.v1.WorkerReady", "body"),
        ("worker_command", 13, "mxaccess_gateway.v1.MxCommandRequest", "body"),
        ("worker_command_reply", 14, "mxaccess_gateway.v1.MxCommandReply", "body"),
        ("worker_cancel", 15, "mxaccess_worker.v1.WorkerCancel", "body"),
        ("worker_shutdown", 16, "mxaccess_worker.v1.WorkerShutdown", "body"),
        ("worker_shutdown_ack", 17, "mxaccess_worker.v1.WorkerShutdownAck", "body"),
        ("worker_event", 18, "mxaccess_gateway.v1.MxEvent", "body"),
        ("worker_heartbeat", 19, "mxaccess_worker.v1.WorkerHeartbeat", "body"),
        ("worker_fault", 20, "mxaccess_worker.v1.WorkerFault", "body"),
    ],
    "mxaccess_worker.v1.GatewayHello": [
        ("gateway_protocol_version", 1, "uint32"),
        ("gateway_name", 2, "string"),
    ],
    "mxaccess_worker.v1.WorkerHello": [
        ("worker_protocol_version", 1, "uint32"),
        ("process_id", 2, "int32"),
    ],
    "mxaccess_worker.v1.WorkerReady": [],
    "mxaccess_worker.v1.WorkerCancel": [
        ("target_correlation_id", 1, "string"),
    ],
    "mxaccess_worker.v1.WorkerShutdown": [
        ("reason", 1, "string"),
    ],
    "mxaccess_worker.v1.WorkerShutdownAck": [],
    "mxaccess_worker.v1.WorkerHeartbeat": [
        ("sent_at_unix_ms", 1, "uint64"),
    ],
    "mxaccess_worker.v1.WorkerFault": [
        ("hresult", 1, "int32"),
        ("message", 2, "string"),
    ],
}

ENUMS: dict[str, dict[str, int]] = {
    "mxaccess_gateway.v1.SessionState": {
        "SESSION_STATE_UNSPECIFIED": 0,
        "SESSION_STATE_STARTING": 1,
        "SESSION_STATE_READY": 2,
        "SESSION_STATE_CLOSING": 3,
        "SESSION_STATE_CLOSED": 4,
        "SESSION_STATE_FAULTED": 5,
    },
    "mxaccess_gateway.v1.ProtocolStatusCode": {
        "PROTOCOL_STATUS_CODE_UNSPECIFIED": 0,
        "PROTOCOL_STATUS_CODE_OK": 1,
        "PROTOCOL_STATUS_CODE_INVALID_REQUEST": 2,
        "PROTOCOL_STATUS_CODE_SESSION_NOT_FOUND": 3,
        "PROTOCOL_STATUS_CODE_SESSION_NOT_READY": 4,
        "PROTOCOL_STATUS_CODE_WORKER_UNAVAILABLE": 5,
        "PROTOCOL_STATUS_CODE_TIMEOUT": 6,
        "PROTOCOL_STATUS_CODE_CANCELED": 7,
        "PROTOCOL_STATUS_CODE_PROTOCOL_VIOLATION": 8,
        "PROTOCOL_STATUS_CODE_MXACCESS_FAILURE": 9,
    },
    "mxaccess_gateway.v1.MxCommandKind": {
        "MX_COMMAND_KIND_UNSPECIFIED": 0,
        "MX_COMMAND_KIND_REGISTER": 1,
        "MX_COMMAND_KIND_UNREGISTER": 2,
        "MX_COMMAND_KIND_ADD_ITEM": 3,
        "MX_COMMAND_KIND_ADD_ITEM2": 4,
        "MX_COMMAND_KIND_REMOVE_ITEM": 5,
        "MX_COMMAND_KIND_ADVISE": 6,
        "MX_COMMAND_KIND_ADVISE_SUPERVISORY": 7,
        "MX_COMMAND_KIND_UNADVISE": 8,
        "MX_COMMAND_KIND_WRITE": 9,
        "MX_COMMAND_KIND_WRITE2": 10,
        "MX_COMMAND_KIND_WRITE_SECURED": 11,
        "MX_COMMAND_KIND_WRITE_SECURED2": 12,
        "MX_COMMAND_KIND_AUTHENTICATE_USER": 13,
        "MX_COMMAND_KIND_DRAIN_EVENTS": 14,
        "MX_COMMAND_KIND_ADD_ITEM_BULK": 20,
        "MX_COMMAND_KIND_ADVISE_ITEM_BULK": 21,
        "MX_COMMAND_KIND_REMOVE_ITEM_BULK": 22,
        "MX_COMMAND_KIND_UNADVISE_ITEM_BULK": 23,
        "MX_COMMAND_KIND_SUBSCRIBE_BULK": 24,
        "MX_COMMAND_KIND_UNSUBSCRIBE_BULK": 25,
        "MX_COMMAND_KIND_READ_BULK": 26,
        "MX_COMMAND_KIND_WRITE_BULK": 27,
        "MX_COMMAND_KIND_WRITE2_BULK": 28,
        "MX_COMMAND_KIND_WRITE_SECURED_BULK": 29,
        "MX_COMMAND_KIND_WRITE_SECURED2_BULK": 30,
    },
    "mxaccess_gateway.v1.MxDataType": {
        "MX_DATA_TYPE_UNSPECIFIED": 0,
        "MX_DATA_TYPE_NO_DATA": 1,
        "MX_DATA_TYPE_BOOLEAN": 2,
        "MX_DATA_TYPE_INTEGER": 3,
        "MX_DATA_TYPE_FLOAT": 4,
        "MX_DATA_TYPE_DOUBLE": 5,
        "MX_DATA_TYPE_STRING": 6,
        "MX_DATA_TYPE_TIME": 7,
        "MX_DATA_TYPE_ELAPSED_TIME": 8,
        "MX_DATA_TYPE_REFERENCE": 9,
        "MX_DATA_TYPE_STATUS": 10,
        "MX_DATA_TYPE_DATA_TYPE_ENUM": 11,
        "MX_DATA_TYPE_SECURITY_CLASSIFICATION_ENUM": 12,
        "MX_DATA_TYPE_DATA_QUALITY": 13,
        "MX_DATA_TYPE_QUALIFIED_ENUM": 14,
        "MX_DATA_TYPE_QUALIFIED_STRUCT": 15,
        "MX_DATA_TYPE_INTERNATIONALIZED_STRING": 16,
        "MX_DATA_TYPE_BIG_STRING": 17,
    },
    "mxaccess_gateway.v1.VariantType": {
        "VT_EMPTY": 0,
        "VT_NULL": 1,
        "VT_I2": 2,
        "VT_I4": 3,
        "VT_R4": 4,
        "VT_R8": 5,
        "VT_CY": 6,
        "VT_DATE": 7,
        "VT_BSTR": 8,
        "VT_ERROR": 10,
        "VT_BOOL": 11,
        "VT_VARIANT": 12,
        "VT_DECIMAL": 14,
        "VT_I1": 16,
        "VT_UI1": 17,
        "VT_UI2": 18,
        "VT_UI4": 19,
        "VT_I8": 20,
        "VT_UI8": 21,
        "VT_INT": 22,
        "VT_UINT": 23,
        "VT_RECORD": 36,
        "VT_FILETIME": 64,
        "VT_ARRAY": 8192,
    },
    "mxaccess_gateway.v1.MxStatusCategory": {
        "MX_STATUS_CATEGORY_UNSPECIFIED": 0,
        "MX_STATUS_CATEGORY_UNKNOWN": 1,
        "MX_STATUS_CATEGORY_OK": 2,
        "MX_STATUS_CATEGORY_PENDING": 3,
        "MX_STATUS_CATEGORY_WARNING": 4,
        "MX_STATUS_CATEGORY_COMMUNICATION_ERROR": 5,
        "MX_STATUS_CATEGORY_CONFIGURATION_ERROR": 6,
        "MX_STATUS_CATEGORY_OPERATIONAL_ERROR": 7,
        "MX_STATUS_CATEGORY_SECURITY_ERROR": 8,
        "MX_STATUS_CATEGORY_SOFTWARE_ERROR": 9,
        "MX_STATUS_CATEGORY_OTHER_ERROR": 10,
    },
    "mxaccess_gateway.v1.MxStatusSource": {
        "MX_STATUS_SOURCE_UNSPECIFIED": 0,
        "MX_STATUS_SOURCE_UNKNOWN": 1,
        "MX_STATUS_SOURCE_REQUESTING_LMX": 2,
        "MX_STATUS_SOURCE_RESPONDING_LMX": 3,
        "MX_STATUS_SOURCE_REQUESTING_NMX": 4,
        "MX_STATUS_SOURCE_RESPONDING_NMX": 5,
        "MX_STATUS_SOURCE_REQUESTING_AUTOMATION_OBJECT": 6,
        "MX_STATUS_SOURCE_RESPONDING_AUTOMATION_OBJECT": 7,
    },
    "mxaccess_gateway.v1.MxEventFamily": {
        "MX_EVENT_FAMILY_UNSPECIFIED": 0,
        "MX_EVENT_FAMILY_ON_DATA_CHANGE": 1,
        "MX_EVENT_FAMILY_ON_WRITE_COMPLETE": 2,
        "MX_EVENT_FAMILY_OPERATION_COMPLETE": 3,
        "MX_EVENT_FAMILY_ON_BUFFERED_DATA_CHANGE": 4,
        "MX_EVENT_FAMILY_ON_ALARM_TRANSITION": 5,
    },
    "mxaccess_gateway.v1.AlarmProviderMode": {
        "ALARM_PROVIDER_MODE_UNSPECIFIED": 0,
        "ALARM_PROVIDER_MODE_ALARMMGR": 1,
        "ALARM_PROVIDER_MODE_SUBTAG": 2,
    },
    "mxaccess_gateway.v1.AlarmConditionState": {
        "ALARM_CONDITION_STATE_UNSPECIFIED": 0,
        "ALARM_CONDITION_STATE_ACTIVE": 1,
        "ALARM_CONDITION_STATE_ACTIVE_ACKNOWLEDGED": 2,
        "ALARM_CONDITION_STATE_CLEARED_UNACKNOWLEDGED": 3,
    },
    "mxaccess_gateway.v1.AlarmTransitionKind": {
        "ALARM_TRANSITION_KIND_UNSPECIFIED": 0,
        "ALARM_TRANSITION_KIND_RAISE": 1,
        "ALARM_TRANSITION_KIND_ACKNOWLEDGE": 2,
        "ALARM_TRANSITION_KIND_CLEAR": 3,
        "ALARM_TRANSITION_KIND_RETRIGGER": 4,
    },
}

SERVICES: dict[str, list[tuple[str, str, str, bool]]] = {
    "mxaccess_gateway.v1.MxAccessGateway": [
        ("OpenSession", "OpenSessionRequest", "OpenSessionReply", False),
        ("CloseSession", "CloseSessionRequest", "CloseSessionReply", False),
        ("Invoke", "MxCommandRequest", "MxCommandReply", False),
        ("StreamEvents", "StreamEventsRequest", "MxEvent", True),
        ("StreamAlarms", "StreamAlarmsRequest", "AlarmFeedMessage", True),
        ("QueryActiveAlarms", "QueryActiveAlarmsRequest", "ActiveAlarmSnapshot", True),
        ("AcknowledgeAlarm", "AcknowledgeAlarmRequest", "AcknowledgeAlarmReply", False),
    ],
    "galaxy_repository.v1.GalaxyRepository": [
        ("TestConnection", "TestConnectionRequest", "TestConnectionReply", False),
        ("GetLastDeployTime", "GetLastDeployTimeRequest", "GetLastDeployTimeReply", False),
        ("DiscoverHierarchy", "DiscoverHierarchyRequest", "DiscoverHierarchyReply", False),
        ("BrowseChildren", "BrowseChildrenRequest", "BrowseChildrenReply", False),
        ("WatchDeployEvents", "WatchDeployEventsRequest", "DeployEvent", True),
    ],
}

FILES: list[FileDescriptor] = [
    mxaccess_gateway_pb2.DESCRIPTOR,
    galaxy_repository_pb2.DESCRIPTOR,
    mxaccess_worker_pb2.DESCRIPTOR,
]

_SCALARS = {
    value: name[len("TYPE_") :].lower()
    for name, value in vars(FieldDescriptor).items()
    if name.startswith("TYPE_")
}


def _all_messages() -> dict[str, Descriptor]:
    found: dict[str, Descriptor] = {}
    for file in FILES:
        for message in file.message_types_by_name.values():
            found[message.full_name] = message
            # The contract has no nested messages; report any as extra.
            for nested in message.nested_types:
                found[nested.full_name] = nested
    return found


def _describe(field: FieldDescriptor) -> Field:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        type_name = field.message_type.full_name
    elif field.type == FieldDescriptor.TYPE_ENUM:
        type_name = field.enum_type.full_name
    else:
        type_name = _SCALARS[field.type]
    oneof = field.containing_oneof
    synthetic = oneof is not None and oneof.name == "_" + field.name
    if field.is_repeated:
        type_name = "repeated " + type_name
    elif synthetic:
        type_name = "optional " + type_name
    if oneof is not None and not synthetic:
        return (field.name, field.number, type_name, oneof.name)
    return (field.name, field.number, type_name)


def test_package_names() -> None:
    assert [f.package for f in FILES] == ["mxaccess_gateway.v1", "galaxy_repository.v1", "mxaccess_worker.v1"]
    assert [f.name for f in FILES] == [
        "mxaccess_gateway.proto",
        "galaxy_repository.proto",
        "mxaccess_worker.proto",
    ]


def test_no_message_missing_or_extra() -> None:
    generated = set(_all_messages())
    assert sorted(set(MESSAGES) - generated) == [], "messages of the contract missing from proto/"
    assert sorted(generated - set(MESSAGES)) == [], "messages in proto/ that the contract does not list"


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_message_fields(name: str) -> None:
    message = _all_messages()[name]
    assert sorted(_describe(f) for f in message.fields) == sorted(MESSAGES[name])


def test_no_enum_missing_or_extra() -> None:
    generated = {e.full_name for f in FILES for e in f.enum_types_by_name.values()}
    assert generated == set(ENUMS)


@pytest.mark.parametrize("name", sorted(ENUMS))
def test_enum_values(name: str) -> None:
    enum = next(
        f.enum_types_by_name[name.rsplit(".", 1)[1]] for f in FILES if name.startswith(f.package + ".")
    )
    assert {v.name: v.number for v in enum.values} == ENUMS[name]


def test_services_and_methods() -> None:
    generated = {
        s.full_name: [(m.name, m.input_type.name, m.output_type.name, m.server_streaming) for m in s.methods]
        for f in FILES
        for s in f.services_by_name.values()
    }
    assert generated == SERVICES
    # The contract has no client-streaming RPC.
    assert not any(m.client_streaming for f in FILES for s in f.services_by_name.values() for m in s.methods)


class _RecordingChannel:
    """Records the method paths a generated stub registers; never sends anything."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    def _record(self, path: str, *args: object, **kwargs: object) -> str:
        self.paths.append(path)
        return path

    unary_unary = _record
    unary_stream = _record
    stream_unary = _record
    stream_stream = _record


@pytest.mark.parametrize(
    ("stub", "service"),
    [
        (mxaccess_gateway_pb2_grpc.MxAccessGatewayStub, "mxaccess_gateway.v1.MxAccessGateway"),
        (galaxy_repository_pb2_grpc.GalaxyRepositoryStub, "galaxy_repository.v1.GalaxyRepository"),
    ],
)
def test_stub_method_paths(stub: type, service: str) -> None:
    channel = _RecordingChannel()
    instance = stub(channel)
    expected = [f"/{service}/{name}" for name, *_ in SERVICES[service]]
    assert channel.paths == expected
    for name, *_ in SERVICES[service]:
        assert getattr(instance, name) == f"/{service}/{name}"


def test_servicer_base_classes_have_every_method() -> None:
    for servicer, service in [
        (mxaccess_gateway_pb2_grpc.MxAccessGatewayServicer, "mxaccess_gateway.v1.MxAccessGateway"),
        (galaxy_repository_pb2_grpc.GalaxyRepositoryServicer, "galaxy_repository.v1.GalaxyRepository"),
    ]:
        for name, *_ in SERVICES[service]:
            assert callable(getattr(servicer, name))
