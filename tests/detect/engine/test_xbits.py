"""xbits end to end: bits kept per host or address pair across flows, in packet time."""

from __future__ import annotations

from detect.engine.conftest import Run, alerts
from detect.engine.pcapkit import Capture, Conversation

SET_SRC = (
    'alert tcp any any -> any any (msg:"stage1"; content:"stage1"; '
    "xbits:set,c2.stage1,track ip_src,expire 10; xbits:noalert; sid:10;)\n"
)
ISSET_SRC = (
    'alert tcp any any -> any any (msg:"stage2"; content:"stage2"; '
    "xbits:isset,c2.stage1,track ip_src; sid:11;)\n"
)


def test_a_host_bit_carries_across_flows_from_the_same_host(run: Run) -> None:
    cap = Capture()
    a = Conversation(cap, client="10.0.0.1", cport=40001, sport=4444)
    b = Conversation(cap, client="10.0.0.1", cport=40002, sport=4444)
    other = Conversation(cap, client="10.0.0.2", cport=40003, sport=4444)
    for c in (a, b, other):
        c.open()
    early = b.send(0, b"stage2 before the bit")
    a.send(0, b"HELLO stage1")
    second = b.send(0, b"stage2 payload")
    other.send(0, b"stage2 from elsewhere")
    for c in (a, b, other):
        c.close()
    events = run(SET_SRC + ISSET_SRC, cap)
    assert alerts(events, 10) == []
    (hit,) = alerts(events, 11)
    assert hit["pcap_cnt"] == second != early
    assert hit["src_ip"] == "10.0.0.1"


def test_a_bit_expires_in_packet_time(run: Run) -> None:
    cap = Capture()
    a, b, c = (Conversation(cap, cport=p, sport=4444) for p in (40001, 40002, 40003))
    for conv in (a, b, c):
        conv.open()
    a.send(0, b"stage1")
    within = b.send(0, b"stage2 within", dt=9.0)
    c.send(0, b"stage2 after", dt=2.0)  # 11 s after the set: expire 10 has passed
    for conv in (a, b, c):
        conv.close()
    events = run(SET_SRC + ISSET_SRC, cap)
    assert [e["pcap_cnt"] for e in alerts(events, 11)] == [within]


def test_ip_dst_set_is_read_as_ip_src_by_the_server_and_ip_pair_either_way(run: Run) -> None:
    cap = Capture()
    a = Conversation(cap, client="10.0.0.1", server="192.0.2.10", cport=40001, sport=4444)
    b = Conversation(cap, client="10.0.0.9", server="192.0.2.10", cport=40002, sport=4444)
    c = Conversation(cap, client="10.0.0.9", server="192.0.2.20", cport=40003, sport=4444)
    for conv in (a, b, c):
        conv.open()
    a.send(0, b"probe")  # sets the server's bit, and the (10.0.0.1, 192.0.2.10) pair's
    from_server = b.send(1, b"reply")  # the same server, answering another client
    other_server = c.send(1, b"reply")
    back = a.send(1, b"pair")  # the pair, the other way round
    for conv in (a, b, c):
        conv.close()
    events = run(
        'alert tcp any any -> any any (msg:"probe"; content:"probe"; '
        "xbits:set,probed,track ip_dst; xbits:set,talked,track ip_pair; noalert; sid:20;)\n"
        'alert tcp any any -> any any (msg:"reply"; content:"reply"; '
        "xbits:isset,probed,track ip_src; sid:21;)\n"
        'alert tcp any any -> any any (msg:"pair"; content:"pair"; '
        "xbits:isset,talked,track ip_pair; sid:22;)\n",
        cap,
    )
    assert [e["pcap_cnt"] for e in alerts(events, 21)] == [from_server]
    assert other_server not in [e["pcap_cnt"] for e in alerts(events)]
    assert [e["pcap_cnt"] for e in alerts(events, 22)] == [back]


def test_setters_run_before_readers_on_the_same_packet(run: Run) -> None:
    cap = Capture()
    a = Conversation(cap, sport=4444)
    a.open()
    both = a.send(0, b"stage1 stage2")
    a.close()
    # the reader comes first in the file; the setter is still evaluated first
    events = run(ISSET_SRC + SET_SRC, cap)
    assert [e["pcap_cnt"] for e in alerts(events, 11)] == [both]


def test_isnotset_and_unset(run: Run) -> None:
    cap = Capture()
    a = Conversation(cap, sport=4444)
    a.open()
    first = a.send(0, b"knock")
    second = a.send(0, b"knock")
    a.send(0, b"forget")
    third = a.send(0, b"knock")
    a.close()
    events = run(
        'alert tcp any any -> any any (msg:"new knocker"; content:"knock"; '
        "xbits:isnotset,knocked,track ip_src; xbits:set,knocked,track ip_src; sid:30;)\n"
        'alert tcp any any -> any any (msg:"forget"; content:"forget"; '
        "xbits:unset,knocked,track ip_src; noalert; sid:31;)\n",
        cap,
    )
    got = [e["pcap_cnt"] for e in alerts(events, 30)]
    assert got == [first, third] and second not in got


def test_xbits_on_http_transactions_use_the_matched_direction(run: Run) -> None:
    cap = Capture()
    get = b"GET /stage1 HTTP/1.1\r\nHost: x\r\n\r\n"
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nServer: nginx\r\n\r\nhi"
    a = Conversation(cap, client="10.0.0.1", cport=40001)
    a.open()
    a.send(0, get)
    a.send(1, ok)
    a.close()
    b = Conversation(cap, client="10.0.0.1", cport=40002)
    b.open()
    req = b.send(0, b"GET /stage2 HTTP/1.1\r\nHost: x\r\n\r\n")
    b.send(1, ok)
    b.close()
    events = run(
        'alert http any any -> any any (msg:"s1"; flow:to_server; http.uri; content:"/stage1"; '
        "xbits:set,web.s1,track ip_src; noalert; sid:40;)\n"
        'alert http any any -> any any (msg:"s2"; flow:to_server; http.uri; content:"/stage2"; '
        "xbits:isset,web.s1,track ip_src; sid:41;)\n"
        'alert http any any -> any any (msg:"server side"; flow:to_client; http.server; '
        'content:"nginx"; xbits:isset,web.s1,track ip_dst; sid:42;)\n',
        cap,
    )
    (s2,) = alerts(events, 41)
    assert s2["pcap_cnt"] >= req and s2["src_ip"] == "10.0.0.1"
    # responses go to 10.0.0.1: its bit is read as the destination
    assert len(alerts(events, 42)) == 2
