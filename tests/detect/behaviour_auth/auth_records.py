"""Record builders for the credential detectors' tests: real `model` event types."""

from __future__ import annotations

from pathlib import Path

from tocsin.model.ftp import PASSWORD_REDACTED, FtpEvent, FtpInfo
from tocsin.model.http import HttpEvent, HttpHeader, HttpInfo
from tocsin.model.ids import FlowId
from tocsin.model.krb5 import Krb5Event, Krb5Info
from tocsin.model.rdp import RdpEvent, RdpInfo
from tocsin.model.smb import SmbEvent, SmbInfo, SmbNtlmssp
from tocsin.output.timefmt import eve_timestamp

S = 1_000_000
T0 = 1_700_000_000 * S
FIXTURES = Path(__file__).parents[2] / "fixtures" / "correlate"


def ftp(
    t: int, fid: int, command: str, data: str | None, code: str, src: str = "10.0.0.5"
) -> FtpEvent:
    return FtpEvent(
        timestamp=eve_timestamp(t),
        flow_id=FlowId(fid),
        src_ip=src,
        src_port=40000 + fid % 20000,
        dest_ip="10.0.0.21",
        dest_port=21,
        proto="TCP",
        ftp=FtpInfo(
            command=command,
            command_data=PASSWORD_REDACTED if command == "PASS" else data,
            reply=["reply"],
            completion_code=[code],
            reply_received="yes",
            reply_truncated=False,
        ),
    )


def ftp_login(t: int, fid: int, user: str, code: str, src: str = "10.0.0.5") -> list[FtpEvent]:
    """USER then PASS (answered `code`) on flow `fid`."""
    return [ftp(t, fid, "USER", user, "331", src), ftp(t + 1000, fid, "PASS", None, code, src)]


def smb_setup(
    t: int, status: str, user: str = "alice", src: str = "10.0.0.5", dst: str = "10.0.0.30"
) -> SmbEvent:
    return SmbEvent(
        timestamp=eve_timestamp(t),
        flow_id=FlowId(1),
        src_ip=src,
        src_port=50000,
        dest_ip=dst,
        dest_port=445,
        proto="TCP",
        smb=SmbInfo(
            id=2,
            dialect="3.11",
            session_id=1,
            tree_id=0,
            command="SMB2_COMMAND_SESSION_SETUP",
            status=status,
            ntlmssp=SmbNtlmssp(domain="CORP", user=user, host="WS1"),
        ),
    )


def http(
    t: int, status: int, src: str = "10.0.0.5", auth: str | None = None, fid: int = 1
) -> HttpEvent:
    headers = [HttpHeader(name="Authorization", value=auth)] if auth else None
    return HttpEvent(
        timestamp=eve_timestamp(t),
        flow_id=FlowId(fid),
        src_ip=src,
        src_port=50000,
        dest_ip="10.0.0.80",
        dest_port=80,
        proto="TCP",
        http=HttpInfo(hostname="intranet", url="/", status=status, request_headers=headers),
    )


def krb(
    t: int,
    msg: str,
    *,
    cname: str = "alice",
    sname: str = "krbtgt/CORP.LOCAL",
    error: str | None = None,
    enc: str = "aes256-cts-hmac-sha1-96",
    ticket: str | None = None,
    client: str = "10.0.0.5",
    kdc: str = "10.0.0.2",
    fid: int = 1,
    port: int = 49000,
    proto: str = "UDP",
    failed: str | None = "KRB_AS_REQ",
    realm: str = "CORP.LOCAL",
) -> Krb5Event:
    """A krb5 event as Tocsin writes it: requests client to KDC, replies KDC to client, on
    flow `fid` from client port `port`; `cname` and `realm` "<empty>" as a Windows KDC's
    errors have them; `failed`: the request an error answers."""
    reply = msg != "KRB_AS_REQ" and msg != "KRB_TGS_REQ"
    src, dst = (kdc, client) if reply else (client, kdc)
    return Krb5Event(
        timestamp=eve_timestamp(t),
        flow_id=FlowId(fid),
        src_ip=src,
        src_port=88 if reply else port,
        dest_ip=dst,
        dest_port=port if reply else 88,
        proto=proto,
        krb5=Krb5Info(
            msg_type=msg,
            error_code=error,
            failed_request=failed if error else None,
            cname=cname,
            realm=realm,
            sname=sname,
            encryption=enc if msg.endswith("REP") else "<none>",
            weak_encryption=enc.startswith("rc4") and msg.endswith("REP"),
            ticket_encryption=ticket,
            ticket_weak_encryption=None if ticket is None else ticket.startswith("rc4"),
        ),
    )


def rdp_cookie(t: int, fid: int, cookie: str, src: str = "10.0.0.5") -> RdpEvent:
    return RdpEvent(
        timestamp=eve_timestamp(t),
        flow_id=FlowId(fid),
        src_ip=src,
        src_port=50000,
        dest_ip="10.0.0.40",
        dest_port=3389,
        proto="TCP",
        rdp=RdpInfo(tx_id=1, event_type="initial_request", cookie=cookie),
    )
