"""`DcerpcParser`: DCERPC directly over TCP (endpoint mapper on 135, dynamic RPC ports).

Sans-io stream parser (see `applayer.base`): each direction's bytes go to one `DceConn`; every
completed call becomes a `dcerpc` event (`model.dcerpc.DcerpcEvent`), emitted when its answer
(or, at `close`, its absence) is seen, with `tx_id` counting calls from 0. Stub data is never
handed to Python: after a REQUEST / RESPONSE header the rest of the fragment goes to `skip`.
Malformed PDUs raise `ParseError`. DCERPC over UDP (version 4) is not handled here.
"""

from __future__ import annotations

from tocsin.applayer.base import AppLimits, AppParser, Emit
from tocsin.applayer.dcerpc import pdu
from tocsin.applayer.dcerpc.conn import Call, DceConn
from tocsin.applayer.dcerpc.interfaces import procedure_name, service_name
from tocsin.model.dcerpc import DcerpcEvent, DcerpcInfo, DcerpcInterface, DcerpcReq, DcerpcRes


def dcerpc_info(call: Call) -> DcerpcInfo:
    """Suricata's `dcerpc` object for a completed call."""
    req = res = None
    if call.req_type == pdu.REQUEST:
        req = DcerpcReq(frag_cnt=call.req_frags, stub_data_size=call.req_stub, opnum=call.opnum)
    if call.resp_type == pdu.RESPONSE:
        res = DcerpcRes(frag_cnt=call.resp_frags, stub_data_size=call.resp_stub)
    ifaces = [
        DcerpcInterface(
            uuid=i.uuid,
            version=i.version,
            ack_result=i.ack_result,
            service=service_name(i.uuid),
            procedure=(
                procedure_name(i.uuid, call.opnum)
                if call.req_type == pdu.REQUEST and call.opnum is not None
                else None
            ),
        )
        for i in call.ifaces
    ]
    return DcerpcInfo(
        request="REQUEST_LOST" if call.req_type is None else pdu.ptype_name(call.req_type),
        response="UNREPLIED" if call.resp_type is None else pdu.ptype_name(call.resp_type),
        call_id=call.call_id,
        rpc_version=f"5.{call.minor}",
        req=req,
        res=res,
        interfaces=ifaces or None,
    )


class DcerpcParser(AppParser):
    name = "dcerpc"

    def __init__(self, emit: Emit, limits: AppLimits) -> None:
        super().__init__(emit, limits)
        self.conn = DceConn(limits.max_message, limits.max_pending, limits.max_items)
        self._tx = 0

    def feed(self, direction: int, data: bytes, ts_us: int) -> None:
        for call in self.conn.feed(direction, data):
            self._emit(call, direction, ts_us)
        self.skip[direction] = self.conn.take_skip(direction)

    def close(self, ts_us: int) -> None:
        for call in self.conn.flush():
            self._emit(call, 1 if call.resp_type is not None else 0, ts_us)

    def _emit(self, call: Call, direction: int, ts_us: int) -> None:
        self.emit(DcerpcEvent, dcerpc_info(call), direction, ts_us, self._tx)
        self._tx += 1
