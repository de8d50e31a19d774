"""MXSTATUS_PROXY values, HRESULTs and detail codes the simulated worker reports.

Categories and sources carry both the contract enum (native value + 2) and the
native ArchestrA number (``raw_category``, ``raw_detected_by``), as the production
worker does.
"""

from __future__ import annotations

from mxgateway.generated import mxaccess_gateway_pb2 as pb

#: HRESULTs (as signed int32, the wire type of ``hresult``).
S_OK = 0
E_FAIL = -2147467259  # 0x80004005
E_INVALIDARG = -2147024809  # 0x80070057
E_ACCESSDENIED = -2147024891  # 0x80070005
DISP_E_TYPEMISMATCH = -2147352571  # 0x80020005

#: Provider detail codes of the statuses below.
DETAIL_NONE = 0
DETAIL_ITEM_NOT_FOUND = 1003
DETAIL_INVALID_HANDLE = 1004
DETAIL_TYPE_MISMATCH = 1010
DETAIL_WRITE_REFUSED = 1011
DETAIL_SECURED_WRITE_REQUIRED = 1012
DETAIL_VERIFIER_REQUIRED = 1013
DETAIL_AUTHENTICATION_FAILED = 1014
DETAIL_NOT_AUTHENTICATED = 1015

#: Quality codes (OPC-DA style).
QUALITY_GOOD = 192
QUALITY_BAD_CONFIGURATION = 4


def ok_status(
    detected_by: pb.MxStatusSource.ValueType = pb.MX_STATUS_SOURCE_RESPONDING_AUTOMATION_OBJECT,
) -> pb.MxStatusProxy:
    """A success status."""
    return pb.MxStatusProxy(
        success=1,
        category=pb.MX_STATUS_CATEGORY_OK,
        detected_by=detected_by,
        raw_category=pb.MX_STATUS_CATEGORY_OK - 2,
        raw_detected_by=detected_by - 2,
    )


def error_status(
    category: pb.MxStatusCategory.ValueType,
    detail: int,
    text: str,
    detected_by: pb.MxStatusSource.ValueType = pb.MX_STATUS_SOURCE_REQUESTING_LMX,
) -> pb.MxStatusProxy:
    """A failure status (``success = 0``) of ``category`` with a provider ``detail`` code."""
    return pb.MxStatusProxy(
        success=0,
        category=category,
        detected_by=detected_by,
        detail=detail,
        raw_category=category - 2,
        raw_detected_by=detected_by - 2,
        diagnostic_text=text,
    )
