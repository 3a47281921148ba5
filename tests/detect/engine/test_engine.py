"""The signature engine end to end: rules and a capture in, EVE alerts out (real pipeline)."""

from __future__ import annotations

from detect.engine.conftest import Run, alerts
from detect.engine.pcapkit import Capture, Conversation

GET = (
    b"GET /admin/login.php?user=x HTTP/1.1\r\n"
    b"Host: Intranet.CHU.example\r\nUser-Agent: curl/8\r\n\r\n"
)
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer: nginx\r\n\r\nhello"


def _http(cap: Capture, cport: int = 40000, request: bytes = GET) -> dict[str, int]:
    c = Conversation(cap, cport=cport)
    c.open()
    req = c.send(0, request)
    resp = c.send(1, OK)
    c.close()
    return {"req": req, "resp": resp}


def test_payload_rule_alert_has_suricata_fields(run: Run) -> None:
    cap = Capture()
    idx = _http(cap)
    events = run(
        'alert tcp $HOME_NET any -> any 80 (msg:"admin login"; flow:established,to_server; '
        'content:"/admin/"; classtype:web-application-attack; '
        "metadata:signature_severity Major, mitre_technique_id T1190; sid:1000; rev:3;)\n",
        cap,
    )
    (a,) = alerts(events)
    assert a["alert"] == {
        "action": "allowed",
        "gid": 1,
        "signature_id": 1000,
        "rev": 3,
        "signature": "admin login",
        "category": "Web Application Attack",
        "severity": 1,
        "metadata": {"signature_severity": ["Major"], "mitre_technique_id": ["T1190"]},
    }
    assert a["pcap_cnt"] == idx["req"]
    assert (a["src_ip"], a["src_port"], a["dest_ip"], a["dest_port"]) == (
        "10.0.0.1",
        40000,
        "192.0.2.10",
        80,
    )
    assert a["direction"] == "to_server" and a["proto"] == "TCP" and a["app_proto"] == "http"
    (flow,) = [e for e in events if e["event_type"] == "flow"]
    assert a["flow_id"] == flow["flow_id"]
    assert flow["flow"]["alerted"] is True
    assert a["flow"]["src_ip"] == "10.0.0.1"


def test_flow_without_alert_is_not_marked(run: Run) -> None:
    cap = Capture()
    _http(cap)
    events = run('alert tcp any any -> any any (msg:"x"; content:"NOT THERE"; sid:1;)\n', cap)
    assert alerts(events) == []
    (flow,) = [e for e in events if e["event_type"] == "flow"]
    assert flow["flow"]["alerted"] is False


def test_http_uri_rule_alerts_at_the_request_with_the_http_object(run: Run) -> None:
    cap = Capture()
    idx = _http(cap)
    events = run(
        'alert http any any -> any any (msg:"uri"; http.uri; content:"/admin/login.php"; '
        'startswith; http.host; content:"intranet.chu.example"; sid:2;)\n'
        'alert http any any -> any any (msg:"status"; http.stat_code; content:"200"; '
        'http.server; content:"nginx"; sid:3;)\n',
        cap,
    )
    (uri,) = alerts(events, 2)
    assert uri["pcap_cnt"] == idx["req"]
    assert uri["http"]["url"] == "/admin/login.php?user=x"
    assert uri["http"]["hostname"] == "intranet.chu.example"
    assert uri["direction"] == "to_server"
    (status,) = alerts(events, 3)
    assert status["pcap_cnt"] == idx["resp"]
    assert status["direction"] == "to_client"
    assert (status["src_ip"], status["dest_ip"]) == ("192.0.2.10", "10.0.0.1")
    assert status["http"]["status"] == 200


def test_tx_rule_alerts_once_per_transaction(run: Run) -> None:
    cap = Capture()
    c = Conversation(cap)
    c.open()
    c.send(0, GET)
    c.send(1, OK)
    c.send(0, GET)
    c.send(1, OK)
    c.close()
    events = run(
        'alert http any any -> any any (msg:"m"; http.method; content:"GET"; sid:4;)\n', cap
    )
    assert len(alerts(events, 4)) == 2
    assert len([e for e in events if e["event_type"] == "http"]) == 2


def test_normalised_uri_and_raw_uri(run: Run) -> None:
    cap = Capture()
    _http(cap, request=b"GET /a/b/../%61dmin HTTP/1.1\r\nHost: x\r\n\r\n")
    events = run(
        'alert http any any -> any any (msg:"norm"; http.uri; content:"/a/admin"; sid:5;)\n'
        'alert http any any -> any any (msg:"raw"; http.uri.raw; content:"/../%61dmin"; sid:6;)\n'
        'alert http any any -> any any (msg:"raw not norm"; http.uri; content:"%61"; sid:7;)\n',
        cap,
    )
    assert [len(alerts(events, s)) for s in (5, 6, 7)] == [1, 1, 0]


def test_flowbits_carry_state_within_one_flow_only(run: Run) -> None:
    cap = Capture()
    a = Conversation(cap, cport=40001, sport=4444)
    b = Conversation(cap, cport=40002, sport=4444)
    a.open()
    b.open()
    a.send(0, b"HELLO stage1")
    b.send(0, b"stage2 only")
    second = a.send(0, b"stage2 payload")
    a.close()
    b.close()
    events = run(
        'alert tcp any any -> any any (msg:"s1"; content:"stage1"; flowbits:set,c2.stage1; '
        "flowbits:noalert; sid:10;)\n"
        'alert tcp any any -> any any (msg:"s2"; content:"stage2"; flowbits:isset,c2.stage1; '
        "sid:11;)\n",
        cap,
    )
    assert alerts(events, 10) == []
    (hit,) = alerts(events, 11)
    assert hit["pcap_cnt"] == second


def test_threshold_limit_and_detection_filter(run: Run) -> None:
    cap = Capture()
    c = Conversation(cap, sport=21)
    c.open()
    for _ in range(6):
        c.send(0, b"USER admin\r\n")
    c.close()
    events = run(
        'alert tcp any any -> any 21 (msg:"limit"; content:"USER"; '
        "threshold:type limit, track by_src, count 2, seconds 60; sid:20;)\n"
        'alert tcp any any -> any 21 (msg:"after 4"; content:"USER"; '
        "detection_filter:track by_src, count 4, seconds 60; sid:21;)\n"
        'alert tcp any any -> any 21 (msg:"every 3rd"; content:"USER"; '
        "threshold:type threshold, track by_src, count 3, seconds 60; sid:22;)\n",
        cap,
    )
    assert [len(alerts(events, s)) for s in (20, 21, 22)] == [2, 2, 2]


def test_header_only_rules(run: Run) -> None:
    cap = Capture()
    _http(cap, cport=40010)
    _http(cap, cport=40011)
    events = run(
        'alert tcp any any -> any 80 (msg:"syn"; flags:S,12; sid:30;)\n'
        'alert tcp any any -> any any (msg:"big"; dsize:>50; sid:31;)\n'
        'alert ip 192.0.2.10 any -> $HOME_NET any (msg:"iponly"; sid:32;)\n'
        'alert tcp any any <> 192.0.2.10 80 (msg:"bidir empty payload"; dsize:0; '
        "flow:to_client; sid:33;)\n",
        cap,
    )
    assert len(alerts(events, 30)) == 2  # one SYN per connection
    assert len(alerts(events, 31)) == 4  # requests (84 bytes) and responses (58)
    assert len(alerts(events, 32)) == 2  # first packet from the server, per flow
    assert len(alerts(events, 33)) == 4  # SYN/ACK and FIN/ACK from the server, per flow


def test_pattern_split_over_two_packets_does_not_match(run: Run) -> None:
    cap = Capture()
    c = Conversation(cap, sport=9000)
    c.open()
    c.send(0, b"xxxxEVIL")
    c.send(0, b"PAYLOADyyyy")
    c.close()
    events = run('alert tcp any any -> any any (msg:"s"; content:"EVILPAYLOAD"; sid:40;)\n', cap)
    assert alerts(events) == []


def test_nocase_and_negated_content(run: Run) -> None:
    cap = Capture()
    c = Conversation(cap, sport=9000)
    c.open()
    one = c.send(0, b"cmd.EXE /c whoami")
    c.send(0, b"cmd.exe /c whoami safe-mode")
    c.close()
    events = run(
        'alert tcp any any -> any any (msg:"n"; content:"CMD.exe"; nocase; '
        'content:!"safe-mode"; sid:41;)\n',
        cap,
    )
    (a,) = alerts(events)
    assert a["pcap_cnt"] == one


def test_dns_query_rule_on_request_only(run: Run) -> None:
    import dpkt

    cap = Capture()
    q = dpkt.dns.DNS(id=7, qd=[dpkt.dns.DNS.Q(name="update.evil-c2.example", type=1)])
    first = cap.udp("10.0.0.5", 33333, "10.0.0.53", 53, bytes(q))
    r = dpkt.dns.DNS(id=7, qr=1, qd=q.qd, an=[])
    r.op = dpkt.dns.DNS_QR
    cap.udp("10.0.0.53", 53, "10.0.0.5", 33333, bytes(r))
    events = run(
        'alert dns any any -> any any (msg:"c2"; dns.query; content:"evil-c2"; nocase; sid:50;)\n',
        cap,
    )
    (a,) = alerts(events)
    assert a["pcap_cnt"] == first
    assert a["dns"]["queries"][0]["rrname"] == "update.evil-c2.example"


def test_output_does_not_depend_on_batch_size(run: Run) -> None:
    cap = Capture()
    for port in range(40100, 40110):
        _http(cap, cport=port)
    rules = (
        'alert tcp any any -> any 80 (msg:"p"; content:"admin"; sid:60;)\n'
        'alert http any any -> any any (msg:"h"; http.uri; content:"login"; sid:61;)\n'
        'alert tcp any any -> any any (msg:"f"; flags:F+; sid:62;)\n'
    )
    big = run(rules, cap)
    small = run(rules, cap, sub_batch=3)
    assert big == small  # every event, counters included
    assert len(alerts(big)) == 10 + 10 + 20


def test_alerts_validate_against_suricata_and_tocsin_schemas(run: Run) -> None:
    import json
    from pathlib import Path

    import jsonschema

    fixtures = Path(__file__).resolve().parents[2] / "fixtures"
    suricata = json.loads((fixtures / "suricata" / "schema.json").read_text())
    ours = json.loads(
        (
            Path(__file__).resolve().parents[3] / "src/tocsin/output/schema/tocsin-eve.schema.json"
        ).read_text()
    )
    cap = Capture()
    _http(cap)
    events = run(
        'alert http any any -> any any (msg:"u"; http.uri; content:"admin"; '
        "classtype:trojan-activity; metadata:created_at 2026_11_29; sid:70; rev:2;)\n"
        'alert tcp any any -> any any (msg:"p"; content:"HTTP/1.1 200"; sid:71;)\n',
        cap,
    )
    got = alerts(events)
    assert len(got) == 2
    for a in got:
        jsonschema.validate(a, suricata)
        jsonschema.validate(a, ours)


def test_tls_certs_rules_see_the_chain_which_is_not_logged(run: Run) -> None:
    from pathlib import Path

    # suricata-verify tls/tls-certs-alert (MIT): its capture and its three rules
    pcap = Path(__file__).resolve().parents[1] / "buffers" / "fixtures" / "tls-certs-alert.pcap"
    events = run(
        'alert tls any any -> any any (msg:"first"; flow:established,to_client; tls.certs; '
        'content:"|30160603550403130f|"; sid:1;)\n'
        'alert tls any any -> any any (msg:"second"; flow:established,to_client; tls.certs; '
        'content:"|30250603550403131e|"; sid:2;)\n'
        'alert tls any any -> any any (msg:"third"; flow:established,to_client; tls.certs; '
        'content:"|301e06035504031317|"; sid:3;)\n',
        pcap,
    )
    assert sorted(a["alert"]["signature_id"] for a in alerts(events)) == [1, 2, 3]
    (tls,) = [e for e in events if e["event_type"] == "tls"]
    assert "chain" not in tls["tls"] and "certificate" not in tls["tls"]


def test_file_data_sees_uploaded_files_and_downloaded_bodies(run: Run) -> None:
    body = (
        b'--XyZ\r\nContent-Disposition: form-data; name="note"\r\n\r\nhello\r\n'
        b'--XyZ\r\nContent-Disposition: form-data; name="f"; filename="r.exe"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\nMZ\x90\x00payload\r\n--XyZ--\r\n"
    )
    post = (
        b"POST /upload HTTP/1.1\r\nHost: pacs.chu.example\r\n"
        b"Content-Type: multipart/form-data; boundary=XyZ\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    cap = Capture()
    c = Conversation(cap)
    c.open()
    c.send(0, post)
    c.send(1, OK)
    c.close()
    events = run(
        'alert http any any -> any any (msg:"PE uploaded"; flow:to_server; file.data; '
        'content:"MZ"; startswith; sid:80;)\n'
        'alert http any any -> any any (msg:"form field is not a file"; flow:to_server; '
        'file.data; content:"hello"; sid:81;)\n'
        'alert http any any -> any any (msg:"download"; flow:to_client; file.data; '
        'content:"hello"; sid:82;)\n',
        cap,
    )
    assert sorted(a["alert"]["signature_id"] for a in alerts(events)) == [80, 82]
    assert {a["tx_id"] for a in alerts(events)} == {0}
