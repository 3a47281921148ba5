"""Header, descriptive, flow and packet-header keywords; unsupported and unknown keywords."""

from __future__ import annotations

import pytest

from tocsin.detect.model import (
    DEFAULT_PRIORITY,
    Flowbit,
    FlowOpts,
    IntCmp,
    TcpFlags,
    Threshold,
)
from tocsin.detect.rules.classification import ClassType
from tocsin.detect.rules.errors import NOT_SUPPORTED, RuleError
from tocsin.detect.rules.parser import RuleParser, parse_rule

from .ruletext import HTTP, fails, parse

IP = "alert ip any any -> any any"


def test_header_fields() -> None:
    r = parse_rule("ALERT TCP 10.0.0.1 1024: <> $HOME_NET [80,443] (sid:5;)")
    assert (r.action, r.proto, r.bidirectional, r.sid) == ("alert", "tcp", True, 5)
    assert r.sport.contains(2000) and not r.sport.contains(80)
    assert r.dport.contains(443)
    for action in ("pass", "drop", "reject", "rejectsrc", "rejectdst", "rejectboth"):
        assert parse_rule(f"{action} ip any any -> any any (sid:1;)").action == action


@pytest.mark.parametrize(
    ("proto", "word", "app"),
    [
        ("ip", "ip", None),
        ("tcp-pkt", "tcp-pkt", None),
        ("tcp-stream", "tcp-stream", None),
        ("icmpv6", "icmpv6", None),
        ("pkthdr", "pkthdr", None),
        ("http", "http", "http"),
        ("http1", "http", "http"),
        ("dns", "dns", "dns"),
        ("tls", "tls", "tls"),
        ("smb", "smb", "smb"),
        ("dcerpc", "dcerpc", "dcerpc"),
        ("dhcp", "dhcp", "dhcp"),
        ("ssh", "ssh", "ssh"),
        ("rdp", "rdp", "rdp"),
        ("ftp", "ftp", "ftp"),
        ("krb5", "krb5", "krb5"),
    ],
)
def test_protocols(proto: str, word: str, app: str | None) -> None:
    r = parse_rule(f"alert {proto} any any -> any any (sid:1;)")
    assert (r.proto, r.app_proto) == (word, app)


@pytest.mark.parametrize(
    ("header", "keyword", "needle"),
    [
        ("config tcp any any -> any any", "action", "action not supported: config"),
        ("accept:hook tcp any any -> any any", "action", "action not supported"),
        ("log tcp any any -> any any", "action", "invalid action"),
        ("alert smtp any any -> any any", "protocol", "protocol not supported: smtp"),
        ("alert imap any any -> any any", "protocol", "protocol not supported: imap"),
        ("alert http2 any any -> any any", "protocol", "protocol not supported: http2"),
        ("alert dns:request_complete any any -> any any", "protocol", "not supported"),
        ("alert ssl any any -> any any", "protocol", "cannot be used"),
        ("alert tcp any any <- any any", "direction", "invalid direction"),
        ("alert tcp any any => any any", "direction", NOT_SUPPORTED),
        ("alert tcp $NOPE any -> any any", "address", "undefined variable $NOPE"),
        ("alert tcp any $NOPE -> any any", "port", "undefined variable $NOPE"),
    ],
)
def test_header_errors(header: str, keyword: str, needle: str) -> None:
    fails("", keyword, needle, header)


def test_descriptive_keywords() -> None:
    r = parse(
        r'msg:"a \"quoted\" \; msg"; rev:3; gid:2; classtype:Trojan-Activity; '
        "reference:url,example.com/a?b=c; reference: cve , 2020-1234; "
        "metadata:created_at 2020_01_01, signature_severity Major, tag A, tag B, novalue; "
        "target:dest_ip; tag:session,10,packets;"
    )
    assert r.msg == 'a "quoted" ; msg'
    assert (r.rev, r.gid, r.key) == (3, 2, (2, 1))
    assert (r.classtype, r.category, r.priority) == (
        "trojan-activity",
        "A Network Trojan was detected",
        1,
    )
    assert r.references == ["url,example.com/a?b=c", "cve,2020-1234"]
    assert r.metadata == {
        "created_at": ["2020_01_01"],
        "signature_severity": ["Major"],
        "tag": ["A", "B"],
    }
    assert r.target == "dest_ip"


def test_priority() -> None:
    assert parse("").priority == DEFAULT_PRIORITY
    assert parse("priority:2; classtype:trojan-activity;").priority == 2  # priority wins
    assert parse("classtype:trojan-activity; priority:2;").priority == 2


def test_custom_classifications() -> None:
    classes = {"mine": ClassType("mine", "My class", 4)}
    r = RuleParser(classes=classes).parse("alert ip any any -> any any (classtype:mine; sid:1;)")
    assert (r.classtype, r.category, r.priority) == ("mine", "My class", 4)
    with pytest.raises(RuleError, match="unknown classtype"):
        RuleParser(classes=classes).parse(
            "alert ip any any -> any any (classtype:trojan-activity; sid:1;)"
        )


@pytest.mark.parametrize(
    ("opts", "keyword", "needle"),
    [
        ("msg:no quotes;", "msg", "double quoted"),
        ("sid:0;", "sid", "invalid sid"),
        ("sid:12 rev:1;", "sid", "invalid sid"),
        ("sid:2;", "sid", "twice"),
        ("rev:x;", "rev", "invalid rev"),
        ("gid:-1;", "gid", "invalid gid"),
        ("priority:0;", "priority", "invalid priority"),
        ("classtype:nope;", "classtype", "unknown classtype"),
        ("classtype:9bad;", "classtype", "invalid classtype"),
        ("reference:nocomma;", "reference", "type,value"),
        ("target:src;", "target", "src_ip or dest_ip"),
        ('sid:"1";', "sid", "quoted"),
        ("tag;", "tag", "needs a value"),
    ],
)
def test_descriptive_errors(opts: str, keyword: str, needle: str) -> None:
    fails(opts, keyword, needle)


def test_sid_is_required() -> None:
    with pytest.raises(RuleError) as e:
        parse_rule('alert tcp any any -> any any (msg:"x";)')
    assert e.value.keyword == "sid" and "sid" in e.value.reason


def test_flow() -> None:
    assert parse("flow:established,to_server;").flow == FlowOpts(to_server=True, established=True)
    assert parse("flow: from_server , not_established;").flow == FlowOpts(False, False)
    assert parse("flow:stateless,to_client,no_frag;").flow == FlowOpts(
        to_server=False, stateless=True, no_frag=True
    )
    assert parse("flow:only_stream;").flow.only_stream
    assert parse("flow:no_stream,only_frag;").flow == FlowOpts(no_stream=True, only_frag=True)
    assert parse("").flow == FlowOpts()


@pytest.mark.parametrize(
    ("opts", "needle"),
    [
        ("flow:to_server,to_client;", "conflicts"),
        ("flow:from_client,to_server;", "conflicts"),
        ("flow:established,not_established;", "conflicts"),
        ("flow:established,stateless;", "conflicts"),
        ("flow:only_stream,no_stream;", "conflicts"),
        ("flow:only_frag,no_frag;", "conflicts"),
        ("flow:sideways;", "invalid flow option"),
        ("flow:established,to_server,no_stream,no_frag;", "at most 3"),
        ("flow:established; flow:to_server;", "only one flow"),
    ],
)
def test_flow_errors(opts: str, needle: str) -> None:
    with pytest.raises(RuleError) as e:
        parse(opts)
    assert needle in e.value.reason


def test_packet_and_stream_do_not_mix() -> None:
    fails("flow:only_stream; dsize:5;", "flow", "can't mix")
    fails("flow:no_stream;", "flow", "can't mix", "alert tcp-stream any any -> any any")


def test_flowbits() -> None:
    r = parse("flowbits:set,a; flowbits:isset,b|c; flowbits:unset, d&e ; flowbits:noalert;")
    assert r.flowbits == [
        Flowbit("set", ("a",)),
        Flowbit("isset", ("b", "c")),
        Flowbit("unset", ("d", "e"), any_of=False),
    ]
    assert r.noalert
    assert parse("flowbits:toggle,x; flowbits:isnotset,y;").flowbits == [
        Flowbit("toggle", ("x",)),
        Flowbit("isnotset", ("y",)),
    ]
    assert parse("noalert;").noalert


@pytest.mark.parametrize(
    ("opts", "needle"),
    [
        ("flowbits:set;", "needs a flowbit name"),
        ("flowbits:noalert,x;", "takes no name"),
        ("flowbits:flip,x;", "invalid flowbits action"),
        ("flowbits:set,a b;", "spaces"),
        ("flowbits:isset,a|b&c;", "can't mix"),
        ("flowbits:Set,x;", "not a valid setting"),
    ],
)
def test_flowbits_errors(opts: str, needle: str) -> None:
    fails(opts, "flowbits", needle)


def test_threshold_and_detection_filter() -> None:
    r = parse("threshold: type limit, track by_src, count 1, seconds 60;")
    assert r.threshold == Threshold("limit", "by_src", 1, 60)
    r = parse("threshold:seconds 5,count 10,track by_both,type both;")
    assert r.threshold == Threshold("both", "by_both", 10, 5)
    r = parse("threshold:type backoff, track by_flow, count 1, multiplier 10;")
    assert r.threshold == Threshold("backoff", "by_flow", 1, 0, 10)
    r = parse("detection_filter:track by_dst, count 5, seconds 30;")
    assert r.detection_filter == Threshold("detection_filter", "by_dst", 5, 30)
    assert r.threshold is None


@pytest.mark.parametrize(
    ("opts", "keyword", "needle"),
    [
        ("threshold:type limit, track by_src, count 1;", "threshold", "seconds"),
        ("threshold:type sometimes, track by_src, count 1, seconds 1;", "threshold", "type"),
        ("threshold:type limit, track by_me, count 1, seconds 1;", "threshold", "track"),
        ("threshold:type limit, track by_src, count 0, seconds 1;", "threshold", "count"),
        ("threshold:type limit, type both, count 1, seconds 1;", "threshold", "twice"),
        ("threshold:type backoff, track by_src, count 1, multiplier 2;", "threshold", "by_flow"),
        ("threshold:type backoff, track by_flow, count 1, seconds 2;", "threshold", "multiplier"),
        (
            "threshold:type limit,track by_src,count 1,seconds 1; "
            "threshold:type limit,track by_src,count 1,seconds 1;",
            "threshold",
            "only one",
        ),
        (
            "threshold:type limit,track by_src,count 1,seconds 1; "
            "detection_filter:track by_src,count 1,seconds 1;",
            "detection_filter",
            "only one",
        ),
        ("detection_filter:track by_src, count 5;", "detection_filter", "all needed"),
        ("detection_filter:track by_src, count 5, seconds 0;", "detection_filter", "seconds"),
    ],
)
def test_threshold_errors(opts: str, keyword: str, needle: str) -> None:
    fails(opts, keyword, needle)


def test_tcp_flags() -> None:
    assert parse("flags:S;").flags == TcpFlags(0x02)
    assert parse("flags:SA;").flags == TcpFlags(0x12)
    assert parse("flags:+S;").flags == TcpFlags(0x02, "+")
    assert parse("flags:*SA;").flags == TcpFlags(0x12, "*")
    assert parse("flags:!R;").flags == TcpFlags(0x04, "!")
    assert parse("flags:SA+;").flags == TcpFlags(0x12, "+")  # Snort's trailing modifier
    assert parse("flags:S,CE;").flags == TcpFlags(0x02, "", 0xC0)
    assert parse("flags:FSRPAUCE;").flags == TcpFlags(0xFF)
    assert parse("flags:S12;").flags == TcpFlags(0xC2)
    assert parse("flags:0;").flags == TcpFlags(0)
    assert parse("tcp.flags:A;").flags == TcpFlags(0x10)


@pytest.mark.parametrize("value", ["X", "+!S", "", "S,X"])
def test_tcp_flags_errors(value: str) -> None:
    fails(f"flags:{value};", "flags")


def test_header_comparisons() -> None:
    r = parse("dsize:>100; ttl:<=64; itype:8; icode:!0;")
    assert r.dsize == IntCmp(">", 100)
    assert r.ttl == IntCmp("<=", 64)
    assert r.itype == IntCmp("=", 8)
    assert r.icode == IntCmp("!=", 0)
    assert parse("dsize:10<>20;").dsize == IntCmp("<>", 10, 20)
    assert parse("dsize:!10-20;").dsize == IntCmp("!<>", 10, 20)
    assert parse("dsize: >= 0x10 ;").dsize == IntCmp(">=", 16)
    assert parse("ttl:=5;").ttl == IntCmp("=", 5)


@pytest.mark.parametrize(
    ("opts", "keyword", "needle"),
    [
        ("ttl:256;", "ttl", "out of range"),
        ("ttl:<0;", "ttl", "never be true"),
        ("ttl:>255;", "ttl", "never be true"),
        ("ttl:5<>6;", "ttl", "invalid range"),
        ("ttl:<>5;", "ttl", "invalid value"),
        ("ttl:1; ttl:2;", "ttl", NOT_SUPPORTED),
        ("itype:a;", "itype", "invalid value"),
    ],
)
def test_header_comparison_errors(opts: str, keyword: str, needle: str) -> None:
    fails(opts, keyword, needle)


def test_ip_proto() -> None:
    assert parse("ip_proto:6;").ip_proto == IntCmp("=", 6)
    assert parse("ip_proto:tcp;").ip_proto == IntCmp("=", 6)
    assert parse("ip_proto:TCP;").ip_proto == IntCmp("=", 6)
    assert parse("ip_proto:IPv6-ICMP;").ip_proto == IntCmp("=", 58)
    assert parse("ip_proto:!UDP;").ip_proto == IntCmp("!=", 17)
    assert parse("ip_proto:>50;").ip_proto == IntCmp(">", 50)
    fails("ip_proto:TcP;", "ip_proto", "unknown protocol")  # case-sensitive, as getprotobyname
    fails("ip_proto:256;", "ip_proto", "invalid protocol number")


def test_stream_size() -> None:
    r = parse("stream_size:server,>,100; stream_size:either, <=, 5;")
    assert r.extra["stream_size"] == [("server", IntCmp(">", 100)), ("either", IntCmp("<=", 5))]
    fails("stream_size:middle,>,1;", "stream_size", "side")
    fails("stream_size:server,=>,1;", "stream_size", "operator")


def test_app_layer_protocol() -> None:
    r = parse("app-layer-protocol:!http;")
    assert (r.app_proto, r.app_proto_negated) == ("http", True)
    r = parse('app-layer-protocol:"http1";')
    assert (r.app_proto, r.app_proto_negated) == ("http", False)
    assert parse("app-layer-protocol:failed;").app_proto == "failed"
    r = parse("app-layer-protocol:!tls; app-layer-protocol:!dns;")
    assert (r.app_proto, r.app_proto_negated) == ("tls", True)
    assert r.extra["app_proto_not"] == ["tls", "dns"]


@pytest.mark.parametrize(
    ("opts", "needle", "header"),
    [
        ("app-layer-protocol:nfs;", "protocol not supported: nfs", "alert tcp any any -> any any"),
        ("app-layer-protocol:gopher;", "unknown protocol", "alert tcp any any -> any any"),
        ("app-layer-protocol:http;", "already http", HTTP),
        ("app-layer-protocol:http; app-layer-protocol:tls;", "conflicting", IP),
        ("app-layer-protocol:!http; app-layer-protocol:!http;", "conflicting", IP),
        ("app-layer-protocol:http,final;", NOT_SUPPORTED, IP),
    ],
)
def test_app_layer_protocol_errors(opts: str, needle: str, header: str) -> None:
    fails(opts, "app-layer-protocol", needle, header)


@pytest.mark.parametrize(
    "keyword",
    [
        "hostbits:set,a,track ip_src",
        "lua:script.lua",
        "dataset:isset,ds,type string",
        "datarep:ds,>,5",
        "iprep:src,cat,>,5",
        "base64_decode",
        "ssl_state:client_hello",
        "tls.version:1.2",
        "byte_math:bytes 1,offset 0,oper +,rvalue 1,result x",
        'pcrexform:"/a(b)/"',
        "flowint:a,+,1",
        "app-layer-event:http.foo",
        "luaxform:x.lua",
        "DOMAIN",
    ],
)
def test_unsupported_keywords(keyword: str) -> None:
    e = fails(f"{keyword};", keyword.split(":")[0].lower())
    assert e.reason == NOT_SUPPORTED


@pytest.mark.parametrize("keyword", ["service:http", "bufferlen:>5", "http_raw_cookie", "foo"])
def test_unknown_keywords(keyword: str) -> None:
    e = fails(f"{keyword};", keyword.split(":")[0])
    assert e.reason == "unknown rule keyword"


def test_the_first_problem_is_reported() -> None:
    fails('hostbits:set,a,track ip_src; content:"|4G|";', "hostbits", NOT_SUPPORTED)
    fails('content:"|4G|"; hostbits:set,a,track ip_src;', "content", "invalid hex")
