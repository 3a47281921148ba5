"""Tests for tocsin.output.eve_format (numba EVE JSON primitives)."""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import os
import struct
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tocsin.output import community_id as cid
from tocsin.output import eve_format as ef

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "output"
U64 = (1 << 64) - 1
SENTINEL = 0xAB

relaxed = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def run(fn, *args, size: int = 4096, offset: int = 3) -> bytes:
    """Call a put_* primitive at a non-zero offset; check it writes only out[offset:pos]."""
    out = np.full(size, SENTINEL, dtype=np.uint8)
    pos = fn(out, offset, *args)
    assert offset <= pos <= size
    assert (out[:offset] == SENTINEL).all()
    assert (out[pos:] == SENTINEL).all() or pos == size
    return bytes(out[offset:pos])


def split128(v: int) -> tuple[np.uint64, np.uint64]:
    return np.uint64(v >> 64), np.uint64(v & U64)


# --------------------------------------------------------------------------- literals / ints


def test_lit_and_put_lit() -> None:
    arr = ef.lit('"event_type":"flow"')
    assert arr.dtype == np.uint8
    assert run(ef.put_lit, arr) == b'"event_type":"flow"'
    assert run(ef.put_lit, ef.lit("")) == b""
    with pytest.raises(UnicodeEncodeError):
        ef.lit("é")


@relaxed
@given(st.integers(0, U64))
@example(0)
@example(9)
@example(10)
@example(U64)
@example((1 << 63) - 1)
def test_put_uint_u64(v: int) -> None:
    got = run(ef.put_uint, np.uint64(v))
    assert got == str(v).encode()
    assert len(got) <= ef.MAX_UINT


@relaxed
@given(st.integers(0, (1 << 63) - 1))
def test_put_uint_int64_input(v: int) -> None:
    assert run(ef.put_uint, np.int64(v)) == str(v).encode()


@relaxed
@given(st.integers(-(1 << 63), (1 << 63) - 1))
@example(-(1 << 63))
@example(-1)
@example(0)
def test_put_int(v: int) -> None:
    got = run(ef.put_int, np.int64(v))
    assert got == str(v).encode()
    assert len(got) <= ef.MAX_INT


def test_put_hex2_all_bytes() -> None:
    for b in range(256):
        assert run(ef.put_hex2, np.uint8(b)) == f"{b:02x}".encode()
    assert run(ef.put_hex2, 0x1B) == b"1b"


def test_put_bool() -> None:
    assert run(ef.put_bool, True) == b"true"
    assert run(ef.put_bool, False) == b"false"


# --------------------------------------------------------------------------- IP addresses


def v4_stored(v4: int) -> tuple[np.uint64, np.uint64]:
    return np.uint64(0), np.uint64(0x0000FFFF_00000000 | v4)


def py_ip6_str(v: int) -> str:
    """Python's str(IPv6Address), with the Python >= 3.13 form for IPv4-mapped addresses."""
    a = ipaddress.IPv6Address(v)
    if a.ipv4_mapped is not None:
        return f"::ffff:{a.ipv4_mapped}"
    return str(a)


@relaxed
@given(st.integers(0, (1 << 32) - 1))
@example(0)
@example((1 << 32) - 1)
def test_put_ip_v4(v4: int) -> None:
    hi, lo = v4_stored(v4)
    got = run(ef.put_ip, 4, hi, lo)
    assert got.decode() == str(ipaddress.IPv4Address(v4))
    assert len(got) <= 15


# Groups biased towards zero so that compression runs and ties are common.
_group = st.one_of(st.just(0), st.just(0), st.integers(0, 0xFFFF), st.sampled_from([1, 0xFFFF]))
_ip6_from_groups = st.lists(_group, min_size=8, max_size=8).map(
    lambda gs: int.from_bytes(struct.pack("!8H", *gs), "big")
)
_ip6 = st.one_of(
    _ip6_from_groups,
    st.integers(0, (1 << 128) - 1),
    st.integers(0, (1 << 32) - 1).map(lambda v: 0xFFFF_00000000 | v),  # IPv4-mapped
    st.integers(0, (1 << 32) - 1),  # IPv4-compatible (::a.b.c.d, printed as hex by Python)
)


@relaxed
@given(_ip6)
@example(0)
@example(1)
@example((1 << 128) - 1)
@example(int(ipaddress.IPv6Address("1:0:0:1:0:0:1:1")))  # tie: first run wins
@example(int(ipaddress.IPv6Address("1:0:1:0:0:1:0:0")))  # longer run wins... (equal -> first)
@example(int(ipaddress.IPv6Address("1:0:1:1:1:1:1:1")))  # single zero group not compressed
@example(int(ipaddress.IPv6Address("::ffff:1.2.3.4")))
@example(int(ipaddress.IPv6Address("::ffff:0:1.2.3.4")))
@example(int(ipaddress.IPv6Address("::1:0:0:0")))
def test_put_ip_v6_matches_python(v: int) -> None:
    hi, lo = split128(v)
    got = run(ef.put_ip, 6, hi, lo)
    assert got.decode() == py_ip6_str(v)
    assert len(got) <= ef.MAX_IP
    assert ipaddress.IPv6Address(got.decode()) == ipaddress.IPv6Address(v)


def test_put_ip_v6_examples() -> None:
    for text in ("2001:db8::1", "fe80::200:86ff:fe05:80da", "::", "::1", "ff02::1:ff07:69ea"):
        hi, lo = split128(int(ipaddress.IPv6Address(text)))
        assert run(ef.put_ip, 6, hi, lo).decode() == text
    hi, lo = split128(int(ipaddress.IPv6Address("::ffff:10.1.2.3")))
    assert run(ef.put_ip, 6, hi, lo) == b"::ffff:10.1.2.3"
    # longest output
    hi, lo = split128((1 << 128) - 1)
    assert len(run(ef.put_ip, 6, hi, lo)) == 39


# --------------------------------------------------------------------------- timestamps

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def py_ts(ts_us: int) -> str:
    dt = EPOCH + timedelta(microseconds=ts_us)
    return (
        f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:"
        f"{dt.second:02d}.{dt.microsecond:06d}+0000"
    )


def test_put_timestamp_examples() -> None:
    assert run(ef.put_timestamp, 1468449727573103) == b"2016-07-13T22:42:07.573103+0000"
    assert run(ef.put_timestamp, 0) == b"1970-01-01T00:00:00.000000+0000"
    assert run(ef.put_timestamp, ef.TS_MAX_US) == b"9999-12-31T23:59:59.999999+0000"
    assert run(ef.put_timestamp, ef.TS_MIN_US) == b"0001-01-01T00:00:00.000000+0000"
    assert run(ef.put_timestamp, -1) == b"1969-12-31T23:59:59.999999+0000"
    leap = int(datetime(2000, 2, 29, 12, tzinfo=UTC).timestamp()) * 1_000_000 + 7
    assert run(ef.put_timestamp, leap) == b"2000-02-29T12:00:00.000007+0000"
    no_leap = int(datetime(2100, 3, 1, tzinfo=UTC).timestamp()) * 1_000_000
    assert run(ef.put_timestamp, no_leap) == b"2100-03-01T00:00:00.000000+0000"


@relaxed
@given(st.integers(0, ef.TS_MAX_US))
def test_put_timestamp_vs_fromtimestamp(ts_us: int) -> None:
    secs, us = divmod(ts_us, 1_000_000)
    dt = datetime.fromtimestamp(secs, tz=UTC).replace(microsecond=us)
    want = dt.strftime("%Y-%m-%dT%H:%M:%S.%f%z")  # %z of UTC is +0000
    if dt.year < 1000:  # %Y is not zero-padded on glibc
        want = py_ts(ts_us)
    got = run(ef.put_timestamp, np.int64(ts_us))
    assert got.decode() == want
    assert len(got) == ef.MAX_TIMESTAMP


@relaxed
@given(st.integers(ef.TS_MIN_US, ef.TS_MAX_US))
def test_put_timestamp_full_range(ts_us: int) -> None:
    assert run(ef.put_timestamp, np.int64(ts_us)).decode() == py_ts(ts_us)


# --------------------------------------------------------------------------- JSON strings


def py_json_str(data: bytes) -> bytes:
    short = {0x22: b'\\"', 0x5C: b"\\\\", 0x0A: b"\\n", 0x0D: b"\\r", 0x09: b"\\t"}
    parts = [b'"']
    for c in data:
        if c in short:
            parts.append(short[c])
        elif c < 0x20 or c >= 0x80:
            parts.append(b"\\u00%02x" % c)
        else:
            parts.append(bytes([c]))
    parts.append(b'"')
    return b"".join(parts)


@relaxed
@given(st.binary(max_size=200), st.integers(0, 5))
@example(bytes(range(256)), 0)
@example(b'say "hi"\\\n\r\t\x00\x7f\xff', 1)
def test_put_json_str(data: bytes, pad: int) -> None:
    src = np.frombuffer(b"x" * pad + data + b"y", dtype=np.uint8)
    got = run(ef.put_json_str, src, pad, len(data))
    assert got == py_json_str(data)
    assert json.loads(got) == data.decode("latin-1")
    assert got.isascii()
    assert len(got) <= 6 * len(data) + 2


def test_put_json_str_worst_case() -> None:
    src = np.full(10, 0x01, dtype=np.uint8)
    assert len(run(ef.put_json_str, src, 0, 10)) == 6 * 10 + 2


# --------------------------------------------------------------------------- SHA-1 / base64


def np_sha1(data: bytes) -> bytes:
    msg = np.frombuffer(data, dtype=np.uint8) if data else np.zeros(0, np.uint8)
    scratch = np.zeros(80, dtype=np.uint32)
    digest = np.zeros(20, dtype=np.uint8)
    cid.sha1(msg, len(data), scratch, digest)
    return bytes(digest)


@pytest.mark.parametrize("n", [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 300])
def test_sha1_block_boundaries(n: int) -> None:
    data = bytes((i * 7 + 3) & 0xFF for i in range(n))
    assert np_sha1(data) == hashlib.sha1(data).digest()


@relaxed
@given(st.binary(max_size=300))
def test_sha1_vs_hashlib(data: bytes) -> None:
    assert np_sha1(data) == hashlib.sha1(data).digest()


def test_sha1_prefix_only() -> None:
    data = b"abcdefgh"
    msg = np.frombuffer(data, dtype=np.uint8)
    scratch = np.zeros(80, dtype=np.uint32)
    digest = np.zeros(20, dtype=np.uint8)
    cid.sha1(msg, 3, scratch, digest)
    assert bytes(digest) == hashlib.sha1(b"abc").digest()


@relaxed
@given(st.binary(max_size=100))
def test_put_base64(data: bytes) -> None:
    src = np.frombuffer(data + b"\x00", dtype=np.uint8)
    got = run(cid.put_base64, src, len(data))
    assert got == base64.b64encode(data)
    assert len(got) == 4 * ((len(data) + 2) // 3)


# --------------------------------------------------------------------------- Community ID

ICMP4_PAIRS = {8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 10: 9, 9: 10, 17: 18, 18: 17}
ICMP6_PAIRS = {
    128: 129,
    129: 128,
    130: 131,
    131: 130,
    133: 134,
    134: 133,
    135: 136,
    136: 135,
    139: 140,
    140: 139,
    144: 145,
    145: 144,
}


def ref_community_id(
    seed: int, saddr: str, daddr: str, proto: int, sport: int | None, dport: int | None
) -> str:
    """Small independent reference (after corelight/pycommunityid), hashlib + base64 + struct."""
    s = ipaddress.ip_address(saddr).packed
    d = ipaddress.ip_address(daddr).packed
    one_way = False
    has_ports = proto in (1, 6, 17, 58, 132)
    if has_ports:
        assert sport is not None and dport is not None
        pairs = ICMP4_PAIRS if proto == 1 else ICMP6_PAIRS if proto == 58 else None
        if pairs is not None:
            if sport in pairs:
                dport = pairs[sport]
            else:
                one_way = True
        if not (one_way or s < d or (s == d and sport < dport)):
            s, d, sport, dport = d, s, dport, sport
    elif not s < d:
        s, d = d, s
    data = struct.pack("!H", seed) + s + d + struct.pack("!BB", proto, 0)
    if has_ports:
        data += struct.pack("!HH", sport, dport)
    return "1:" + base64.b64encode(hashlib.sha1(data).digest()).decode()


def addr_words(text: str) -> tuple[int, np.uint64, np.uint64]:
    a = ipaddress.ip_address(text)
    if a.version == 4:
        hi, lo = v4_stored(int(a))
        return 4, hi, lo
    hi, lo = split128(int(a))
    return 6, hi, lo


def np_community_id(
    seed: int, saddr: str, daddr: str, proto: int, sport: int | None, dport: int | None
) -> str:
    ver, shi, slo = addr_words(saddr)
    ver2, dhi, dlo = addr_words(daddr)
    assert ver == ver2
    msg = np.zeros(cid.COMMUNITY_ID_MSG_BYTES, dtype=np.uint8)
    w = np.zeros(cid.SHA1_SCRATCH_WORDS, dtype=np.uint32)
    dig = np.zeros(cid.SHA1_DIGEST_BYTES, dtype=np.uint8)
    got = run(
        cid.put_community_id,
        seed,
        ver,
        shi,
        slo,
        dhi,
        dlo,
        proto,
        sport or 0,
        dport or 0,
        msg,
        w,
        dig,
    )
    assert len(got) == ef.MAX_COMMUNITY_ID
    value = json.loads(got)
    assert isinstance(value, str)
    return value


def load_vectors() -> list[tuple[str, int, int, str, str, int | None, int | None, str]]:
    rows = []
    for line in (FIXTURES / "community_id_vectors.tsv").read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        src, seed, proto, saddr, daddr, sport, dport, cid = line.split("\t")
        rows.append(
            (
                src,
                int(seed),
                int(proto),
                saddr,
                daddr,
                None if sport == "-" else int(sport),
                None if dport == "-" else int(dport),
                cid,
            )
        )
    return rows


VECTORS = load_vectors()


def test_vector_file_has_all_sources() -> None:
    sources = {r[0].split(":")[0] for r in VECTORS}
    assert sources == {"spec-readme", "spec-json", "zeek-cid", "suricata-verify"}
    assert len(VECTORS) == 100


@pytest.mark.parametrize("row", VECTORS, ids=[f"{r[0]}-{i}-p{r[2]}" for i, r in enumerate(VECTORS)])
def test_community_id_known_vectors(row: tuple) -> None:
    _src, seed, proto, saddr, daddr, sport, dport, cid = row
    assert np_community_id(seed, saddr, daddr, proto, sport, dport) == cid
    assert ref_community_id(seed, saddr, daddr, proto, sport, dport) == cid


def test_community_id_direction_semantics() -> None:
    a, b = "1.2.3.4", "5.6.7.8"
    # bidirectional: both directions agree
    for proto, sp, dp in ((6, 1122, 3344), (17, 53, 53), (132, 7, 9), (47, None, None)):
        assert np_community_id(0, a, b, proto, sp, dp) == np_community_id(0, b, a, proto, dp, sp)
    # ICMP echo request/reply pair up regardless of the code value
    assert np_community_id(0, a, b, 1, 8, 0) == np_community_id(0, b, a, 1, 0, 0)
    assert np_community_id(0, a, b, 1, 8, 5) == np_community_id(0, a, b, 1, 8, 0)
    # router solicitation / advertisement (pycommunityid maps both ways)
    assert np_community_id(0, a, b, 1, 10, 0) == np_community_id(0, b, a, 1, 9, 0)
    # one-way ICMP (time exceeded): no reordering, so the reverse direction differs
    assert np_community_id(0, a, b, 1, 11, 0) != np_community_id(0, b, a, 1, 11, 0)
    assert np_community_id(0, b, a, 1, 11, 0) == ref_community_id(0, b, a, 1, 11, 0)
    # ICMPv6 one-way keeps the given order even if the source is the larger address
    x, y = "3ffe:507:0:1:200:86ff:fe05:80da", "3ffe:501:4819::42"
    assert np_community_id(0, x, y, 58, 1, 4) == "1:jwuBy9UWZK1KUFqJV5cHdVpfrlY="
    # same address: ports decide
    assert np_community_id(0, a, a, 6, 80, 1234) == np_community_id(0, a, a, 6, 1234, 80)


_ports_proto = st.sampled_from([1, 6, 17, 58, 132, 0, 2, 46, 47, 50, 89, 255])


@st.composite
def flows(draw: st.DrawFn) -> tuple[int, str, str, int, int | None, int | None]:
    ver = draw(st.sampled_from([4, 6]))
    bits = 32 if ver == 4 else 128
    mk = ipaddress.IPv4Address if ver == 4 else ipaddress.IPv6Address
    addr = st.one_of(st.integers(0, (1 << bits) - 1), st.sampled_from([0, 1, (1 << bits) - 1]))
    s = draw(addr)
    d = draw(st.one_of(addr, st.just(s)))
    proto = draw(_ports_proto)
    if proto in (1, 58):
        pairs = ICMP4_PAIRS if proto == 1 else ICMP6_PAIRS
        sp = draw(st.one_of(st.sampled_from(sorted(pairs)), st.integers(0, 255)))
        dp = draw(st.integers(0, 255))
    elif proto in (6, 17, 132):
        sp = draw(st.one_of(st.integers(0, 65535), st.sampled_from([0, 80, 65535])))
        dp = draw(st.one_of(st.integers(0, 65535), st.just(sp)))
    else:
        sp = dp = None
    seed = draw(st.one_of(st.just(0), st.integers(0, 65535)))
    return seed, str(mk(s)), str(mk(d)), proto, sp, dp


@relaxed
@given(flows())
def test_community_id_vs_reference(flow: tuple) -> None:
    assert np_community_id(*flow) == ref_community_id(*flow)


# --------------------------------------------------------------------------- corpus


def _pcap_tuples(path: Path) -> list[tuple[str, str, int, int | None, int | None]]:
    """Minimal Ethernet/IPv4/IPv6 pcap reader: (saddr, daddr, proto, sport|type, dport|code)."""
    data = path.read_bytes()
    e = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    assert struct.unpack(e + "I", data[20:24])[0] == 1  # Ethernet
    off, rows = 24, []
    while off + 16 <= len(data):
        incl = struct.unpack(e + "I", data[off + 8 : off + 12])[0]
        pkt = data[off + 16 : off + 16 + incl]
        off += 16 + incl
        ethertype = struct.unpack(">H", pkt[12:14])[0]
        ip = pkt[14:]
        if ethertype == 0x0800:
            proto, s, d, l4 = ip[9], ip[12:16], ip[16:20], ip[(ip[0] & 15) * 4 :]
        elif ethertype == 0x86DD:
            proto, s, d, l4 = ip[6], ip[8:24], ip[24:40], ip[40:]
        else:
            continue
        sp: int | None
        dp: int | None
        if proto in (6, 17, 132):
            sp, dp = struct.unpack(">HH", l4[:4])
        elif proto in (1, 58):
            sp, dp = l4[0], l4[1]
        else:
            sp = dp = None
        rows.append((str(ipaddress.ip_address(s)), str(ipaddress.ip_address(d)), proto, sp, dp))
    return rows


@pytest.mark.corpus
@pytest.mark.parametrize("trace", ["icmp.pcap", "icmp6.pcap", "ipv6.pcap", "tcp.pcap", "udp.pcap"])
def test_community_id_zeek_traces(trace: str) -> None:
    """Per-packet IDs over zeek/Traces/communityid/<trace> == zeek-community-id's per-connection
    baseline for that trace (every packet's ID is its connection's ID)."""
    repo = Path(__file__).resolve().parents[2]
    corpus = Path(os.environ.get("TOCSIN_CORPUS", repo.parent / "shared" / "corpus"))
    path = corpus / "zeek" / "Traces" / "communityid" / trace
    if not path.is_file():
        pytest.skip(f"shared corpus not found at {corpus} (set TOCSIN_CORPUS)")
    want = {r[7] for r in VECTORS if r[0] == f"zeek-cid:{trace}"}
    got = {np_community_id(0, *t) for t in _pcap_tuples(path)}
    assert want
    assert got == want


# --------------------------------------------------------------------------- no allocation

_ALLOC_SCRIPT = """
import numpy as np
from numba import njit
from numba.core.runtime import rtsys
from tocsin.output import community_id as cid
from tocsin.output import eve_format as ef

@njit
def kernel(out, n, msg, w, dig, src):
    pos = 0
    for i in range(n):
        pos = 0
        pos = ef.put_timestamp(out, pos, 1468449727573103 + i)
        pos = ef.put_ip(out, pos, 6, np.uint64(0x20010DB800000000), np.uint64(i))
        pos = ef.put_ip(out, pos, 4, np.uint64(0), np.uint64(0xFFFF0A000001))
        pos = cid.put_community_id(out, pos, 1, 4, np.uint64(0), np.uint64(0xFFFF0A000001),
                                  np.uint64(0), np.uint64(0xFFFF0A000002), 6, i, 80, msg, w, dig)
        pos = ef.put_json_str(out, pos, src, 0, len(src))
        pos = ef.put_int(out, pos, -i)
        pos = ef.put_uint(out, pos, np.uint64(i))
        pos = ef.put_hex2(out, pos, i)
        pos = ef.put_bool(out, pos, i % 2 == 0)
        pos = cid.put_base64(out, pos, src, len(src))
        cid.sha1(src, len(src), w, dig)
    return pos

out = np.zeros(4096, np.uint8)
msg = np.zeros(40, np.uint8)
w = np.zeros(80, np.uint32)
dig = np.zeros(20, np.uint8)
src = np.frombuffer(b'ab"c\\x01\\xff', np.uint8).copy()
kernel(out, 1, msg, w, dig, src)
s0 = rtsys.get_allocation_stats().alloc
kernel(out, 1, msg, w, dig, src)
s1 = rtsys.get_allocation_stats().alloc
kernel(out, 2000, msg, w, dig, src)
s2 = rtsys.get_allocation_stats().alloc
print(s1 - s0, s2 - s1)
"""


def test_primitives_do_not_allocate_per_record() -> None:
    """NRT allocation count of a kernel call must not grow with the number of records."""
    env = dict(os.environ, NUMBA_NRT_STATS="1")
    src_dir = Path(ef.__file__).resolve().parents[2]
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(src_dir), env.get("PYTHONPATH")]))
    res = subprocess.run(
        [sys.executable, "-c", _ALLOC_SCRIPT], env=env, capture_output=True, text=True, check=True
    )
    one, many = map(int, res.stdout.split())
    assert one == many


@pytest.mark.parametrize(
    "row", [r for r in VECTORS if r[2] in (6, 17, 132)], ids=lambda r: str(r[0])
)
def test_python_community_id_matches_the_vectors(
    row: tuple[str, int, int, str, str, int | None, int | None, str],
) -> None:
    """The plain-Python Community ID (app-layer events) equals the published vectors."""
    _, seed, proto, saddr, daddr, sport, dport, want = row
    ver, shi, slo = addr_words(saddr)
    _, dhi, dlo = addr_words(daddr)
    a = (int(shi), int(slo), sport or 0)
    b = (int(dhi), int(dlo), dport or 0)
    assert cid.community_id_text(seed, ver, a, b, proto) == want
    assert cid.community_id_text(seed, ver, b, a, proto) == want
