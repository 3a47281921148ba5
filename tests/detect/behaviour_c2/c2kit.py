"""Model records for the C2/exfiltration detector tests, shaped as the DNS parser writes them
(`applayer/dns/message.py`): a request from the client, a response from the resolver."""

from __future__ import annotations

from tocsin.model.dns import DnsAnswer, DnsEvent, DnsInfo, DnsQuery
from tocsin.model.ids import FlowId
from tocsin.model.tls import TlsEvent, TlsInfo
from tocsin.output.timefmt import eve_timestamp

S = 1_000_000
T0 = 1_700_000_000 * S


def dns_request(
    name: str,
    ts: int,
    *,
    qtype: str = "A",
    client: str = "10.0.0.5",
    server: str = "10.0.0.53",
    sport: int = 40000,
    dport: int = 53,
) -> DnsEvent:
    return DnsEvent(
        timestamp=eve_timestamp(ts),
        flow_id=FlowId(sport),
        src_ip=client,
        src_port=sport,
        dest_ip=server,
        dest_port=dport,
        proto="UDP",
        app_proto="dns",
        dns=DnsInfo(
            version=3,
            type="request",
            tx_id=0,
            id=sport & 0xFFFF,
            flags="100",
            rd=True,
            opcode=0,
            rcode="NOERROR",
            queries=[DnsQuery(rrname=name, rrtype=qtype)],
        ),
    )


def dns_response(
    name: str,
    ts: int,
    *,
    rcode: str = "NXDOMAIN",
    qtype: str = "A",
    client: str = "10.0.0.5",
    server: str = "10.0.0.53",
    sport: int = 40000,
) -> DnsEvent:
    answers = None
    if rcode == "NOERROR":
        answers = [DnsAnswer(rrname=name, rrtype=qtype, ttl=60, rdata="192.0.2.1")]
    return DnsEvent(
        timestamp=eve_timestamp(ts),
        flow_id=FlowId(sport),
        src_ip=server,
        src_port=53,
        dest_ip=client,
        dest_port=sport,
        proto="UDP",
        app_proto="dns",
        dns=DnsInfo(
            version=3,
            type="response",
            tx_id=1,
            id=sport & 0xFFFF,
            flags="8183" if rcode == "NXDOMAIN" else "8180",
            qr=True,
            rd=True,
            ra=True,
            opcode=0,
            rcode=rcode,
            queries=[DnsQuery(rrname=name, rrtype=qtype)],
            answers=answers,
        ),
    )


def tls_event(
    ts: int, flow_id: int, *, client: str, server: str, sni: str | None, dport: int = 443
) -> TlsEvent:
    return TlsEvent(
        timestamp=eve_timestamp(ts),
        flow_id=FlowId(flow_id),
        src_ip=client,
        src_port=40000 + flow_id % 20000,
        dest_ip=server,
        dest_port=dport,
        proto="TCP",
        app_proto="tls",
        tls=TlsInfo(sni=sni, version="TLS 1.3"),
    )
