"""Hosts of a generated capture and the client ports they open connections from.

- `Host(name, ip, mac, vlan=None, ttl=64)`: one network interface. `ip` is IPv4 or IPv6 text;
  `mac` six bytes; `vlan` the 802.1Q VLAN id of its segment (`None`: untagged; which
  frames carry it: see `trace`); `ttl` the initial TTL / hop limit of its stack (64 Linux and most
  appliances, 128 Windows, 255 some network gear). Immutable and hashable: a `Trace` keys its
  host table (IP ID counters) on it, so the same `Host` value is the same sender.
  `Host.make(name, ip)` derives a locally-administered MAC (`02:..`) from the address when none
  is given. `ip_packed` (4 or 16 bytes) and `version` (4 or 6) are computed once.
- `EphemeralPorts(rng)`: client ports in 49152-65535 (the IANA dynamic range Windows and many
  stacks use), per host: sequential from a random start, so a host does not reuse a port
  before it has used all 16384 of them (then it wraps).

Errors: `ValueError` for an unparsable address, a MAC that is not 6 bytes, a VLAN outside
1-4094 or a TTL outside 1-255.
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass, field

EPHEMERAL_LOW = 49152
EPHEMERAL_COUNT = 65536 - EPHEMERAL_LOW


@dataclass(frozen=True, slots=True)
class Host:
    name: str
    ip: str
    mac: bytes
    vlan: int | None = None
    ttl: int = 64
    ip_packed: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            packed = ipaddress.ip_address(self.ip).packed
        except ValueError as e:
            raise ValueError(f"host {self.name!r}: {e}") from None
        if len(self.mac) != 6:
            raise ValueError(f"host {self.name!r}: MAC must be 6 bytes, got {len(self.mac)}")
        if self.vlan is not None and not 1 <= self.vlan <= 4094:
            raise ValueError(f"host {self.name!r}: VLAN {self.vlan} outside 1-4094")
        if not 1 <= self.ttl <= 255:
            raise ValueError(f"host {self.name!r}: TTL {self.ttl} outside 1-255")
        object.__setattr__(self, "ip_packed", packed)

    @property
    def version(self) -> int:
        return 4 if len(self.ip_packed) == 4 else 6

    @classmethod
    def make(
        cls,
        name: str,
        ip: str,
        mac: bytes | None = None,
        vlan: int | None = None,
        ttl: int = 64,
    ) -> Host:
        """A host whose MAC, when not given, is derived from its address: `02:00:` + the IPv4
        address, or `02:` + the low 5 bytes of the IPv6 one (locally administered, unicast)."""
        if mac is None:
            try:
                packed = ipaddress.ip_address(ip).packed
            except ValueError as e:
                raise ValueError(f"host {name!r}: {e}") from None
            mac = b"\x02\x00" + packed if len(packed) == 4 else b"\x02" + packed[-5:]
        return cls(name, ip, mac, vlan, ttl)


class EphemeralPorts:
    """Client source ports per host: 49152-65535, sequential from a random start per host.

    Deterministic for the `rng` given and the order of calls."""

    __slots__ = ("_next", "_rng")

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._next: dict[Host, int] = {}

    def take(self, host: Host) -> int:
        """The next client port of `host` (no reuse before 16384 calls for that host)."""
        k = self._next.get(host)
        if k is None:
            k = self._rng.randrange(EPHEMERAL_COUNT)
        self._next[host] = (k + 1) % EPHEMERAL_COUNT
        return EPHEMERAL_LOW + k
