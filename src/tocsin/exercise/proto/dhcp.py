"""DHCP (RFC 2131/2132) messages for generated traffic: a lease's DISCOVER/OFFER/REQUEST/ACK.

Builders return whole BOOTP datagrams (fixed 236-byte header, magic cookie, options, end,
padded to BOOTP's 300-byte minimum as Windows and most stacks do):

- `discover(xid, mac, hostname, vendor_class)`, `request(xid, mac, requested_ip, server_ip,
  hostname, vendor_class)`: client messages with the options a Windows client sends
  (message type, client identifier 01+MAC, requested address, host name, client FQDN,
  vendor class "MSFT 5.0", parameter request list). `renewal=True` makes a REQUEST of a
  bound client renewing its lease (ciaddr set, no server identifier, no requested address).
- `offer(...)`, `ack(...)`: the server's answers with server identifier, lease, renewal
  (T1 = lease/2) and rebinding (T2 = 7/8 lease) times, subnet mask, router, DNS servers,
  domain name.
- `lease(rng, mac, hostname, your_ip, server_ip, ...)`: the four datagrams of one lease as
  turns (client, server, client, server), the xid drawn from `rng`.

Addressing, which the caller (the wire layer) must apply, since a lease is not one 5-tuple:
a client without an address sends DISCOVER and REQUEST from 0.0.0.0:68 to
255.255.255.255:67; the server answers OFFER and ACK from server_ip:67 to
255.255.255.255:68 (the broadcast flag is set in client messages, as an address-less
client asks; `broadcast=False` makes the server answer unicast to your_ip:68 instead).
Through a relay (`relay_ip`, the router of the client's VLAN: giaddr set, hops 1) the
exchange between the relay and a central server is unicast relay_ip:67 <-> server_ip:67.
A renewal is unicast client_ip:68 <-> server_ip:67. Ethernet: client frames come from `mac`;
broadcasts go to ff:ff:ff:ff:ff:ff.

Errors: `ValueError` for a MAC that is not 6 bytes, an address that is not IPv4, or an
option value over 255 bytes.
"""

from __future__ import annotations

import random
import socket
import struct
from collections.abc import Sequence

from tocsin.exercise.wire.turns import Turn, client, server

DISCOVER, OFFER, REQUEST, DECLINE, ACK, NAK, RELEASE, INFORM = range(1, 9)
# Windows 10/11 parameter request list
WINDOWS_PARAMS = (1, 3, 6, 15, 31, 33, 43, 44, 46, 47, 119, 121, 249, 252)
_HEADER = struct.Struct("!BBBBIHH4s4s4s4s16s64s128s")
_MAGIC = b"\x63\x82\x53\x63"
_MIN_SIZE = 300
_ZERO = b"\x00\x00\x00\x00"


def _mac(mac: str) -> bytes:
    raw = bytes.fromhex(mac.replace(":", "").replace("-", ""))
    if len(raw) != 6:
        raise ValueError(f"MAC address {mac!r} is not 6 bytes")
    return raw


def _ip(ip: str | None) -> bytes:
    if ip is None:
        return _ZERO
    try:
        return socket.inet_aton(ip)
    except OSError as exc:
        raise ValueError(f"{ip!r} is not an IPv4 address") from exc


def _opt(code: int, value: bytes) -> bytes:
    if len(value) > 255:
        raise ValueError(f"DHCP option {code} value of {len(value)} bytes (at most 255)")
    return bytes((code, len(value))) + value


def _message(
    op: int,
    xid: int,
    mac: str,
    options: Sequence[bytes],
    *,
    flags: int = 0,
    secs: int = 0,
    ciaddr: str | None = None,
    yiaddr: str | None = None,
    siaddr: str | None = None,
    giaddr: str | None = None,
) -> bytes:
    hops = 1 if giaddr else 0
    head = _HEADER.pack(
        op, 1, 6, hops, xid, secs, flags, _ip(ciaddr), _ip(yiaddr), _ip(siaddr), _ip(giaddr),
        _mac(mac).ljust(16, b"\x00"), bytes(64), bytes(128),
    )  # fmt: skip
    msg = head + _MAGIC + b"".join(options) + b"\xff"
    return msg.ljust(_MIN_SIZE, b"\x00")


def _client_options(
    kind: int,
    mac: str,
    hostname: str | None,
    vendor_class: str | None,
    requested_ip: str | None,
    server_ip: str | None,
    params: Sequence[int],
) -> list[bytes]:
    opts = [_opt(53, bytes((kind,))), _opt(61, b"\x01" + _mac(mac))]
    if requested_ip:
        opts.append(_opt(50, _ip(requested_ip)))
    if server_ip:
        opts.append(_opt(54, _ip(server_ip)))
    if hostname:
        opts.append(_opt(12, hostname.encode("ascii")))
        opts.append(_opt(81, b"\x00\x00\x00" + hostname.encode("ascii")))  # FQDN, ASCII name
    if vendor_class:
        opts.append(_opt(60, vendor_class.encode("ascii")))
    opts.append(_opt(55, bytes(params)))
    return opts


def discover(
    xid: int,
    mac: str,
    hostname: str | None = None,
    vendor_class: str | None = "MSFT 5.0",
    *,
    params: Sequence[int] = WINDOWS_PARAMS,
    relay_ip: str | None = None,
    secs: int = 0,
) -> bytes:
    """A DHCPDISCOVER of the client `mac` (broadcast flag set)."""
    opts = _client_options(DISCOVER, mac, hostname, vendor_class, None, None, params)
    return _message(1, xid, mac, opts, flags=0x8000, secs=secs, giaddr=relay_ip)


def request(
    xid: int,
    mac: str,
    requested_ip: str,
    server_ip: str,
    hostname: str | None = None,
    vendor_class: str | None = "MSFT 5.0",
    *,
    params: Sequence[int] = WINDOWS_PARAMS,
    relay_ip: str | None = None,
    renewal: bool = False,
    secs: int = 0,
) -> bytes:
    """A DHCPREQUEST selecting `server_ip`'s offer of `requested_ip` (or renewing it)."""
    if renewal:
        opts = _client_options(REQUEST, mac, hostname, vendor_class, None, None, params)
        return _message(1, xid, mac, opts, secs=secs, ciaddr=requested_ip)
    opts = _client_options(REQUEST, mac, hostname, vendor_class, requested_ip, server_ip, params)
    return _message(1, xid, mac, opts, flags=0x8000, secs=secs, giaddr=relay_ip)


def _reply(
    kind: int,
    xid: int,
    mac: str,
    your_ip: str,
    server_ip: str,
    *,
    lease_s: int,
    mask: str,
    router: str | None,
    dns_servers: Sequence[str],
    domain: str | None,
    relay_ip: str | None,
    broadcast: bool,
    ciaddr: str | None = None,
) -> bytes:
    opts = [
        _opt(53, bytes((kind,))),
        _opt(54, _ip(server_ip)),
        _opt(51, struct.pack("!I", lease_s)),
        _opt(58, struct.pack("!I", lease_s // 2)),
        _opt(59, struct.pack("!I", lease_s * 7 // 8)),
        _opt(1, _ip(mask)),
    ]
    if router:
        opts.append(_opt(3, _ip(router)))
    if dns_servers:
        opts.append(_opt(6, b"".join(_ip(d) for d in dns_servers)))
    if domain:
        opts.append(_opt(15, domain.encode("ascii")))
    return _message(
        2, xid, mac, opts, flags=0x8000 if broadcast else 0, ciaddr=ciaddr, yiaddr=your_ip,
        giaddr=relay_ip,
    )  # fmt: skip


def offer(
    xid: int,
    mac: str,
    your_ip: str,
    server_ip: str,
    *,
    lease_s: int = 86_400,
    mask: str = "255.255.255.0",
    router: str | None = None,
    dns_servers: Sequence[str] = (),
    domain: str | None = None,
    relay_ip: str | None = None,
    broadcast: bool = True,
) -> bytes:
    """A DHCPOFFER of `your_ip` to `mac`."""
    return _reply(
        OFFER, xid, mac, your_ip, server_ip, lease_s=lease_s, mask=mask, router=router,
        dns_servers=dns_servers, domain=domain, relay_ip=relay_ip, broadcast=broadcast,
    )  # fmt: skip


def ack(
    xid: int,
    mac: str,
    your_ip: str,
    server_ip: str,
    *,
    lease_s: int = 86_400,
    mask: str = "255.255.255.0",
    router: str | None = None,
    dns_servers: Sequence[str] = (),
    domain: str | None = None,
    relay_ip: str | None = None,
    broadcast: bool = True,
    renewal: bool = False,
) -> bytes:
    """A DHCPACK binding `your_ip` to `mac` (`renewal`: answering a renewal, ciaddr set)."""
    return _reply(
        ACK, xid, mac, your_ip, server_ip, lease_s=lease_s, mask=mask, router=router,
        dns_servers=dns_servers, domain=domain, relay_ip=relay_ip,
        broadcast=broadcast and not renewal, ciaddr=your_ip if renewal else None,
    )  # fmt: skip


def lease(
    rng: random.Random,
    mac: str,
    hostname: str | None,
    your_ip: str,
    server_ip: str,
    *,
    vendor_class: str | None = "MSFT 5.0",
    lease_s: int = 86_400,
    mask: str = "255.255.255.0",
    router: str | None = None,
    dns_servers: Sequence[str] = (),
    domain: str | None = None,
    relay_ip: str | None = None,
    server_s: float = 0.001,
) -> list[Turn]:
    """DISCOVER, OFFER, REQUEST, ACK of one lease (see the module docstring for where each
    datagram goes)."""
    xid = rng.getrandbits(32)
    replies = [
        make(
            xid, mac, your_ip, server_ip, lease_s=lease_s, mask=mask, router=router,
            dns_servers=dns_servers, domain=domain, relay_ip=relay_ip,
        )
        for make in (offer, ack)
    ]  # fmt: skip
    return [
        client(discover(xid, mac, hostname, vendor_class, relay_ip=relay_ip)),
        server(replies[0], server_s),
        client(request(xid, mac, your_ip, server_ip, hostname, vendor_class, relay_ip=relay_ip)),
        server(replies[1], server_s),
    ]
