"""The **mixed** capture: real corpus traffic replicated into many concurrent hosts.

Recipe (deterministic):
1. Read `CORPUS_FILES` (Ethernet pcap / pcapng from `shared/corpus`, in this order).
2. Per file, make times relative and monotonic: gaps are clipped to [0, `MAX_GAP_US`], so a file
   with a clock jump or a multi-day gap becomes a few minutes of traffic, in its own order.
3. Replicate: round r (0..R-1) holds one copy of every file, started at a seeded random offset
   in [0, `SPAN_US` - file span). R is the smallest count whose output reaches `TARGET_BYTES`.
4. Rewrite addresses per copy (file f, round r), so no two copies share a host or a flow:
   - IPv4: each unicast address of file f gets a number; private ones (RFC 1918, 100.64/10,
     169.254/16, and 127/8 since some traces were replayed over loopback) go to 10.0.0.0/8,
     public ones to 172.16.0.0/12, at r * count + number. 0/8, multicast and 240/4 (including
     255.255.255.255) are kept, as a sensor sees them from every host.
   - IPv6: the low 32 bits of each non-multicast address become r * count + number.
   - The IPv4 header checksum is recomputed; the TCP / UDP / ICMPv6 checksum is updated
     incrementally (RFC 1624) for the address change, so a checksum that was right stays right
     (and one that was wrong, e.g. from offload, stays wrong). Only the outer header of the first
     fragment is rewritten: addresses inside tunnels, ICMP errors, ARP and payloads are not.
5. Merge all copies by time (stable sort), write one µs classic pcap.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from pcapio import Trace, read_trace, write_header

CORPUS_FILES: tuple[str, ...] = (
    # HTTP (IPv4 and IPv6), file transfers, web attacks
    "zeek/Traces/http/206_example_b.pcap",
    "zeek/Traces/http/206_example_a.pcap",
    "zeek/Traces/http/206_example_c.pcap",
    "zeek/Traces/http/bro.org.pcap",
    "zeek/Traces/http/methods.pcap",
    "zeek/Traces/http/m57-long-49583-80.pcap",
    "zeek/Traces/http/http-post-large.pcap",
    "zeek/Traces/zip/test.pcap",
    "zeek/Traces/pe/pe.pcap",
    "zeek/Traces/wikipedia.pcap",
    "suricata-verify/tests/bug-4663/input.pcap",
    "suricata-verify/tests/http-body-inspect/http-aptget-ids-02-s2.pcap",
    "suricata-verify/tests/filestore-v2.1-forced/suricata-update-pdf.pcap",
    "suricata-verify/tests/http-range-file/input.pcap",
    "suricata-verify/tests/rule-hooks/http-body-hook-01/input.pcap",
    "suricata-verify/tests/http2-keywords/input.pcap",
    "pcaps/ndpi/pcap/WebattackRCE.pcap",
    "pcaps/ndpi/pcap/WebattackSQLinj.pcap",
    "pcaps/chrissanders/cryptowall4_c2.pcapng",
    "pcaps/chrissanders/http_dvwa_sqlinjection.pcapng",
    # TLS, QUIC, malware C2
    "pcaps/slips/dataset/test-cc/test-cc-capture-1.pcap",
    "suricata-verify/tests/tls/tls-subjectaltname/input.pcap",
    "suricata-verify/tests/lua/lua-transform-11-bug-8173/suri-crash-104.16.3.34-only.pcap",
    "suricata-verify/tests/lua/lua-transform-10-bug-8173/suri-crash-13.107.253.70-only.pcap",
    "suricata-verify/tests/tls/tls-bypass-missing-event/tor_bl.pcap",
    "suricata-verify/tests/tls/tls-cert-issuer/tls.pcap",
    "suricata-verify/tests/community-id-ipv6/input.pcap",
    "suricata-verify/tests/base64-decode-5885/input.pcap",
    "zeek/Traces/tls/ssl.v3.pcap",
    "zeek/Traces/tls/tls-1.2-stream-keylog.pcap",
    "zeek/Traces/tls/google-cert-repeat.pcap",
    "pcaps/ndpi/pcap/tls_esni_sni_both.pcap",
    "pcaps/ndpi/pcap/malware.pcap",
    "pcaps/ndpi/pcap/trickbot.pcap",
    "pcaps/ndpi/pcap/emotet.pcap",
    "zeek/Traces/quic/chromium-115.0.5790.110-google-de-fragmented.pcap",
    "zeek/Traces/quic/firefox-102.13.0esr-blog-cloudflare-com.pcap",
    "zeek/Traces/quic/quic_win11_firefox_google.pcap",
    # DNS, mDNS, NetBIOS, SIP
    "pcaps/slips/dataset/test-cc/test-cc-capture-2.pcap",
    "suricata-verify/tests/dns/bug-1158/input.pcap",
    "suricata-verify/tests/sip-method/sip.pcap",
    "pcaps/ndpi/pcap/dns_exfiltration.pcap",
    "pcaps/ndpi/pcap/dns-tunnel-iodine.pcap",
    "zeek/Traces/dns-edns-ecs.pcap",
    "zeek/Traces/dns/mdns.pcap",
    # SMB, DCE-RPC, Kerberos, LDAP
    "zeek/Traces/smb/smb2.pcap",
    "zeek/Traces/smb/smb2_100_small_files.pcap",
    "suricata-verify/tests/smb2-async-read/input.pcap",
    "suricata-verify/tests/smb2-05/20171220_smb_mimikatz_copy_to_host.pcap",
    "suricata-verify/tests/smb2-07/20171220_smb_psexec_add_user.pcap",
    "suricata-verify/tests/smb-filename/input.pcap",
    "suricata-verify/tests/smb2-01/smb2-peter.pcap",
    "suricata-verify/tests/filestore-filecontainer-smb1-data-offset/input.pcap",
    "suricata-verify/tests/smb2-ntlmssp-negotiateflags/input.pcap",
    "suricata-verify/tests/dcerpc/zerologon/input.pcap",
    "zeek/Traces/dce-rpc/mapi.pcap",
    "zeek/Traces/krb/kinit.pcap",
    "zeek/Traces/ldap/missing_ldap_logs.pcapng",
    # SSH (incl. brute force), RDP, VNC
    "zeek/Traces/ssh/ssh.server-side-half-duplex.pcap",
    "zeek/Traces/ssh/ssh_kex_mlkem.pcap",
    "zeek/Traces/ssh/sshguess.pcap",
    "pcaps/slips/dataset/test19-malicious-ssh/malicious-ssh-bruteforce.pcap",
    "pcaps/ndpi/pcap/ssh.pcap",
    "zeek/Traces/rdp/rdp-to-ssl.pcap",
    "suricata-verify/tests/rdp-protocol/RDP-003.pcap",
    "suricata-verify/tests/rfb-protocol-3.8/04-vnc-openwall-3.8.pcap",
    # mail, FTP
    "suricata-verify/tests/issue-4220-01-ids/1flowB.pcap",
    "suricata-verify/tests/mime/mime-stream-depth/input.pcap",
    "suricata-verify/tests/pop3/input.pcap",
    "suricata-verify/tests/tcp-async-01/input.pcap",
    "zeek/Traces/ftp/cwd-navigation.pcap",
    "zeek/Traces/ftp/bruteforce.pcap",
    "suricata-verify/tests/bug-4877/input.pcap",
    # DHCP, ICMP / ICMPv6, NTP, SNMP, IGMP, ARP
    "zeek/Traces/dhcp/dhcp_flood.pcap",
    "zeek/Traces/dhcp/dhcp-unique-xid-join-data-growth.pcapng",
    "pcaps/ndpi/pcap/icmp-tunnel.pcap",
    "suricata-verify/tests/detect-itype-prefilter/icmpv4-ping.pcap",
    "zeek/Traces/communityid/icmp6.pcap",
    "zeek/Traces/ntp/NTP-digest.pcap",
    "zeek/Traces/ntp/ntp2.pcap",
    "zeek/Traces/snmp/snmpwalk-short.pcap",
    "zeek/Traces/igmp/igmp-many-groups.pcap",
    "pcaps/chrissanders/arppoison.pcapng",
    # ICS, medical, scans, tunnels, misc
    "zeek/Traces/modbus/modbusBig.pcap",
    "suricata-verify/tests/enip-keywords/enip_cip_example.pcap",
    "pcaps/ndpi/pcap/hl7.pcap",
    "pcaps/chrissanders/synscan.pcapng",
    "zeek/Traces/nmap-vsn.pcap",
    "pcaps/slips/dataset/test7-malicious.pcap",
    "zeek/Traces/tunnels/Teredo.pcap",
    "zeek/Traces/communityid/sctp.pcap",
)

SEED = 20_240_601
T0_US = 1_717_200_000 * 1_000_000  # 2024-06-01 00:00 UTC
SPAN_US = 3_600 * 1_000_000  # all copies start within one hour
MAX_GAP_US = 60 * 1_000_000
TARGET_BYTES = 2**31 + 2**24  # file size: a little over 2 GiB
CHUNK_PACKETS = 1 << 17

_KEPT_V4 = [ipaddress.ip_network(n) for n in ("0.0.0.0/8", "224.0.0.0/3")]
_PRIVATE_NETS = (
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "169.254.0.0/16",
    "127.0.0.0/8",
)
_PRIVATE_V4 = [ipaddress.ip_network(n) for n in _PRIVATE_NETS]
_PRIV_BASE, _PRIV_SIZE = 0x0A000000, 1 << 24
_PUB_BASE, _PUB_SIZE = 0xAC100000, 1 << 20
_ETH_IPV4, _ETH_IPV6, _ETH_VLAN, _ETH_QINQ = 0x0800, 0x86DD, 0x8100, 0x88A8
_L4_CSUM_AT = {6: 16, 17: 6, 58: 2}  # TCP, UDP, ICMPv6: checksum offset in the L4 header


@dataclass
class Sources:
    """Every source packet once, with what the rewrite needs (all arrays indexed by packet)."""

    data: np.ndarray  # uint8, all frames
    offset: np.ndarray  # int64
    caplen: np.ndarray  # int64
    wirelen: np.ndarray  # int64
    file: np.ndarray  # int32, index into CORPUS_FILES
    rel_us: np.ndarray  # int64, monotonic time from the file's first packet
    span_us: np.ndarray  # int64 per file
    l3: np.ndarray  # int64, offset of the IP header in the frame (-1: not IP)
    family: np.ndarray  # int8: 4, 6, 0
    ihl: np.ndarray  # int64, IPv4 header length in bytes (0 if not fully captured)
    src_id: np.ndarray  # int64, address number (-1: keep)
    dst_id: np.ndarray
    src_pub: np.ndarray  # bool, IPv4 address goes to the public pool
    dst_pub: np.ndarray
    l4_csum: np.ndarray  # int64, offset of the L4 checksum in the frame (-1: none)
    l4_udp: np.ndarray  # bool (UDP over IPv4: a zero checksum means "none")
    counts: tuple[int, int, int]  # addresses per round: private v4, public v4, v6

    @property
    def packets(self) -> int:
        return len(self.offset)

    @property
    def round_bytes(self) -> int:
        return int(self.caplen.sum()) + 16 * self.packets


class _AddressBook:
    def __init__(self) -> None:
        self.counts = [0, 0, 0]  # private v4, public v4, v6

    def table(self, family: int, addrs: set[bytes]) -> dict[bytes, tuple[int, bool]]:
        out: dict[bytes, tuple[int, bool]] = {}
        for raw in sorted(addrs):
            ip = ipaddress.ip_address(raw)
            if ip.is_multicast or any(ip in n for n in _KEPT_V4 if family == 4):
                continue
            pool = 2 if family == 6 else int(not any(ip in n for n in _PRIVATE_V4))
            out[raw] = (self.counts[pool], pool == 1)
            self.counts[pool] += 1
        return out


def _relative_times(ts_us: np.ndarray) -> np.ndarray:
    gaps = np.clip(np.diff(ts_us, prepend=ts_us[:1]), 0, MAX_GAP_US)
    return np.cumsum(gaps)


def _l3_offset(frame: bytes) -> tuple[int, int]:
    pos, ethertype = 12, -1
    while pos + 2 <= len(frame):
        ethertype = (frame[pos] << 8) | frame[pos + 1]
        if ethertype not in (_ETH_VLAN, _ETH_QINQ):
            return pos + 2, ethertype
        pos += 4
    return -1, -1


def load_sources(corpus: Path, log: Callable[[str], None] = print) -> Sources:
    book = _AddressBook()
    traces: list[Trace] = []
    cols: dict[str, list[int | bool]] = {k: [] for k in _COL_DTYPES}
    rel: list[np.ndarray] = []
    spans: list[int] = []
    for fi, name in enumerate(CORPUS_FILES):
        trace = read_trace(corpus / name)
        traces.append(trace)
        rel.append(_relative_times(trace.ts_us))
        spans.append(int(rel[-1][-1]))
        _describe_file(fi, trace, book, cols)
    data = np.concatenate([t.data for t in traces])
    bases = np.cumsum([0] + [len(t.data) for t in traces[:-1]])
    src = Sources(
        data=data,
        offset=np.concatenate([t.offset + b for t, b in zip(traces, bases, strict=True)]),
        caplen=np.concatenate([t.caplen for t in traces]),
        wirelen=np.concatenate([t.wirelen for t in traces]),
        rel_us=np.concatenate(rel),
        span_us=np.asarray(spans, dtype=np.int64),
        counts=(book.counts[0], book.counts[1], book.counts[2]),
        **{k: np.asarray(v, dtype=_COL_DTYPES[k]) for k, v in cols.items()},
    )
    log(
        f"mixed: {len(CORPUS_FILES)} corpus files, {src.packets:,} packets, "
        f"{src.round_bytes / 1e6:.1f} MB per round; addresses per round: "
        f"{src.counts[0]} private v4, {src.counts[1]} public v4, {src.counts[2]} v6"
    )
    return src


_COL_DTYPES = {
    "file": np.int32,
    "l3": np.int64,
    "family": np.int8,
    "ihl": np.int64,
    "src_id": np.int64,
    "dst_id": np.int64,
    "src_pub": bool,
    "dst_pub": bool,
    "l4_csum": np.int64,
    "l4_udp": bool,
}


def _describe_file(
    fi: int, trace: Trace, book: _AddressBook, cols: dict[str, list[int | bool]]
) -> None:
    parsed: list[tuple[int, int, int, bytes, bytes, int, bool]] = []
    seen: dict[int, set[bytes]] = {4: set(), 6: set()}
    raw = trace.data.tobytes()
    for off, cap in zip(trace.offset.tolist(), trace.caplen.tolist(), strict=True):
        frame = raw[off : off + cap]
        parsed.append(_describe_frame(frame))
        family, _, _, s, d, _, _ = parsed[-1]
        if family:
            seen[family].update((s, d))
    tables = {f: book.table(f, seen[f]) for f in (4, 6)}
    for family, l3, ihl, s, d, l4_csum, udp in parsed:
        sid, spub = tables[family].get(s, (-1, False)) if family else (-1, False)
        did, dpub = tables[family].get(d, (-1, False)) if family else (-1, False)
        for key, value in (
            ("file", fi),
            ("l3", l3),
            ("family", family),
            ("ihl", ihl),
            ("src_id", sid),
            ("dst_id", did),
            ("src_pub", spub),
            ("dst_pub", dpub),
            ("l4_csum", l4_csum),
            ("l4_udp", udp),
        ):
            cols[key].append(value)


def _describe_frame(frame: bytes) -> tuple[int, int, int, bytes, bytes, int, bool]:
    """(family, l3 offset, IPv4 header length, src, dst, L4 checksum offset, UDP over IPv4)."""
    l3, ethertype = _l3_offset(frame)
    cap = len(frame)
    if ethertype == _ETH_IPV4 and l3 + 20 <= cap and frame[l3] >> 4 == 4:
        ihl = (frame[l3] & 0x0F) * 4
        if ihl < 20 or l3 + ihl > cap:
            return 0, -1, 0, b"", b"", -1, False
        proto = frame[l3 + 9]
        first_fragment = (((frame[l3 + 6] << 8) | frame[l3 + 7]) & 0x1FFF) == 0
        csum = l3 + ihl + _L4_CSUM_AT[proto] if proto in (6, 17) and first_fragment else -1
        csum = csum if csum + 2 <= cap else -1
        return 4, l3, ihl, frame[l3 + 12 : l3 + 16], frame[l3 + 16 : l3 + 20], csum, proto == 17
    if ethertype == _ETH_IPV6 and l3 + 40 <= cap and frame[l3] >> 4 == 6:
        nh = frame[l3 + 6]
        csum = l3 + 40 + _L4_CSUM_AT[nh] if nh in _L4_CSUM_AT else -1
        csum = csum if csum + 2 <= cap else -1
        return 6, l3, 0, frame[l3 + 8 : l3 + 24], frame[l3 + 24 : l3 + 40], csum, False
    return 0, -1, 0, b"", b"", -1, False


def plan_rounds(src: Sources, target_bytes: int = TARGET_BYTES) -> int:
    rounds = math.ceil((target_bytes - 24) / src.round_bytes)
    priv, pub, _ = src.counts
    if rounds * priv > _PRIV_SIZE or rounds * pub > _PUB_SIZE:
        raise ValueError(f"{rounds} rounds overflow the address pools ({priv=} {pub=})")
    return rounds


def schedule(src: Sources, rounds: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Output order as (source packet, round, time µs) arrays, sorted by time (stable)."""
    rng = np.random.default_rng(SEED)
    high = np.maximum(SPAN_US - src.span_us, 1)
    start = T0_US + rng.integers(0, high, size=(rounds, len(high)))
    ts = (start[:, src.file] + src.rel_us[None, :]).ravel()
    order = np.argsort(ts, kind="stable")
    return order % src.packets, order // src.packets, ts[order]


def write_mixed(
    src: Sources, rounds: int, out: BinaryIO, progress: Callable[[int, int], None]
) -> int:
    """Write the whole capture; returns the packet count."""
    pkt, rnd, ts = schedule(src, rounds)
    write_header(out)
    total = len(pkt)
    for lo in range(0, total, CHUNK_PACKETS):
        hi = lo + CHUNK_PACKETS
        out.write(_chunk(src, pkt[lo:hi], rnd[lo:hi], ts[lo:hi]).tobytes())
        progress(min(hi, total), total)
    return total


def _chunk(src: Sources, s: np.ndarray, r: np.ndarray, ts: np.ndarray) -> np.ndarray:
    caplen = src.caplen[s]
    rec_off = np.zeros(len(s), dtype=np.int64)
    np.cumsum(16 + caplen[:-1], out=rec_off[1:])
    buf = np.empty(int(rec_off[-1] + 16 + caplen[-1]), dtype=np.uint8)
    hdr = np.empty((len(s), 4), dtype="<u4")
    hdr[:, 0], hdr[:, 1] = np.divmod(ts, 1_000_000)
    hdr[:, 2], hdr[:, 3] = caplen, src.wirelen[s]
    buf[rec_off[:, None] + np.arange(16)] = hdr.view(np.uint8).reshape(-1, 16)
    frame_off = rec_off + 16
    out, data = memoryview(buf), memoryview(src.data)
    for o, so, n in zip(frame_off.tolist(), src.offset[s].tolist(), caplen.tolist(), strict=True):
        out[o : o + n] = data[so : so + n]
    _rewrite(src, buf, frame_off, s, r)
    return buf


def _be_bytes(values: np.ndarray) -> np.ndarray:
    return values.astype(">u4").view(np.uint8).reshape(-1, 4)


def _word_sum(b: np.ndarray) -> np.ndarray:
    return ((b[:, 0::2].astype(np.int64) << 8) | b[:, 1::2]).sum(axis=1)


def _fold(x: np.ndarray) -> np.ndarray:
    for _ in range(3):
        x = (x & 0xFFFF) + (x >> 16)
    return x


def _rewrite(
    src: Sources, buf: np.ndarray, frame_off: np.ndarray, s: np.ndarray, r: np.ndarray
) -> None:
    priv, pub, v6 = src.counts
    for family, at, width, low in ((4, 12, 8, (0, 4)), (6, 8, 32, (12, 28))):
        m = src.family[s] == family
        if not m.any():
            continue
        sm, rm = s[m], r[m]
        base = frame_off[m] + src.l3[sm] + at
        idx = base[:, None] + np.arange(width)
        old = buf[idx]
        new = old.copy()
        ends = ((src.src_id, src.src_pub, low[0]), (src.dst_id, src.dst_pub, low[1]))
        for ids, pubs, col in ends:
            known = ids[sm] >= 0
            if family == 4:
                is_pub = pubs[sm]
                per_round = np.where(is_pub, pub, priv)
                value = np.where(is_pub, _PUB_BASE, _PRIV_BASE) + rm * per_round + ids[sm]
            else:
                value = rm.astype(np.int64) * v6 + ids[sm]
            new[known, col : col + 4] = _be_bytes(value[known])
        buf[idx] = new
        csum_at = src.l4_csum[sm]
        c = csum_at >= 0
        if c.any():
            pos = frame_off[m][c] + csum_at[c]
            old_c = (buf[pos].astype(np.int64) << 8) | buf[pos + 1]
            acc = (0xFFFF - old_c) + (0xFFFF * (width // 2) - _word_sum(old[c])) + _word_sum(new[c])
            fixed = 0xFFFF - _fold(acc)
            udp = src.l4_udp[sm][c]
            fixed = np.where(udp & (fixed == 0), 0xFFFF, fixed)
            fixed = np.where(udp & (old_c == 0), 0, fixed)
            buf[pos], buf[pos + 1] = fixed >> 8, fixed & 0xFF
        if family == 4:
            _ipv4_header_checksum(buf, frame_off[m] + src.l3[sm], src.ihl[sm])


def _ipv4_header_checksum(buf: np.ndarray, l3: np.ndarray, ihl: np.ndarray) -> None:
    idx = np.minimum(l3[:, None] + np.arange(60), len(buf) - 1)
    hdr = buf[idx]
    hdr[:, 10:12] = 0
    words = (hdr[:, 0::2].astype(np.int64) << 8) | hdr[:, 1::2]
    words *= np.arange(30)[None, :] < (ihl[:, None] // 2)
    csum = 0xFFFF - _fold(words.sum(axis=1))
    buf[l3 + 10], buf[l3 + 11] = csum >> 8, csum & 0xFF
