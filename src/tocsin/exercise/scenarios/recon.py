"""Reconnaissance from a compromised workstation: ping sweep of the server VLAN, a TCP sweep
of one port across the user VLAN, then a SYN scan of the patient-record and file servers.

What an intruder runs first (nmap -sn, then -sS), as in the opening hours of the
Corbeil-Essonnes attack: the workstation has never scanned anything before. Probes answer
as real stacks do: live hosts echo, open ports SYN/ACK (the scanner resets), closed ones
RST/ACK, the rest stay silent (filtered).
"""

from __future__ import annotations

from dataclasses import dataclass

from tocsin.exercise.wire.hosts import Host
from tocsin.exercise.world import World

# what nmap's top ports find open on the servers of a hospital (per role)
_OPEN = {
    "dc": (53, 88, 135, 139, 389, 445, 464, 636, 3268, 3389),
    "file_server": (135, 139, 445, 3389),
    "dpi": (22, 443, 8443),
    "pacs": (22, 104, 443, 11112),
    "hl7_engine": (22, 443, 2575, 6661),
}
_TOP_PORTS = (
    21, 22, 23, 25, 53, 80, 81, 88, 104, 110, 111, 113, 135, 139, 143, 199, 389, 443, 445, 464,
    465, 513, 514, 515, 543, 544, 548, 554, 587, 631, 636, 646, 873, 990, 993, 995, 1025, 1026,
    1027, 1433, 1521, 1720, 1723, 2000, 2049, 2121, 2575, 2717, 3000, 3128, 3268, 3306, 3389,
    3986, 4899, 5000, 5009, 5051, 5060, 5101, 5190, 5357, 5432, 5631, 5666, 5800, 5900, 6000,
    6001, 6646, 6661, 7070, 8000, 8008, 8009, 8080, 8081, 8443, 8888, 9100, 9999, 10000, 11112,
    32768, 49152, 49153, 49154, 49155, 49156, 49157,
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Recon:
    name: str = "recon"
    summary: str = (
        "A compromised workstation pings the server VLAN, sweeps port 445 across the users' "
        "VLAN and SYN-scans the patient-record and file servers."
    )
    duration_s: float = 900.0

    def inject(self, w: World, t: float) -> float:
        return discover(w, t, w.rng.choice(w.site.role("workstation")[10:]))


def discover(w: World, t: float, scanner: Host, *, prefix: str = "recon") -> float:
    """The three steps from `scanner` at `t` (ids `<prefix>.ping_sweep`, `.smb_sweep`,
    `.port_scan`); returns the end of the last."""
    site, tr, rng = w.site, w.trace, w.rng
    roles = ("dc", "file_server", "dpi", "pacs", "hl7_engine")
    servers = [h for r in roles for h in site.role(r)]
    # 1. ping sweep of the server VLAN (every address, live or not)
    t0 = t
    live = site.by_ip  # every host of the site answers; free addresses stay silent
    swept = []
    for last in range(1, 255):
        ip = f"10.20.20.{last}"
        target = live.get(ip) or Host.make(f"x{last}", ip, vlan=20)
        tr.icmp_echo(t, scanner, target, ident=0x1F2E, seq=last, reply=ip in live)
        swept.append(target)
        t += rng.uniform(0.002, 0.01)
    w.step(
        f"{prefix}.ping_sweep", "Ping sweep of the server VLAN (nmap -sn)", t0, t, [scanner],
        [h.ip for h in servers], "T1018", "TA0007", ["behaviour.icmp_scan"],
        f"{scanner.ip} sends ICMP echo requests to every address of 10.20.20.0/24.",
    )  # fmt: skip
    t += rng.uniform(30, 90)
    # 2. TCP sweep of port 445 across the users' VLAN
    t0 = t
    users = {ip: h for ip, h in site.by_ip.items() if h is not scanner}
    peers = []
    for last in range(1, 255):  # every address of the VLAN: the live ones answer
        ip = f"10.20.0.{last}"
        if ip == scanner.ip:
            continue
        h = users.get(ip) or Host.make(f"u{last}", ip, vlan=10)
        peers.append(h)
        reply = "synack_rst" if ip in users else None
        t = tr.tcp_probe(t, scanner, w.ports.take(scanner), h, 445, "S", reply)
        t += rng.uniform(0.002, 0.02)
    w.step(
        f"{prefix}.smb_sweep", "SYN sweep of port 445 across the users' VLAN", t0, t, [scanner],
        [h.ip for h in peers], "T1046", "TA0007", ["behaviour.host_sweep"],
        f"{scanner.ip} probes TCP 445 on every address of 10.20.0.0/24 in a few seconds.",
    )  # fmt: skip
    t += rng.uniform(30, 90)
    # 3. SYN scan of the top ports of the key servers
    t0 = t
    targets = [site.one("dpi"), *site.role("file_server")]
    for srv in targets:
        role = next(r for r in _OPEN if srv in site.role(r))
        for p in _TOP_PORTS:
            reply = "synack_rst" if p in _OPEN[role] else "rst" if rng.random() < 0.7 else None
            t = tr.tcp_probe(t, scanner, w.ports.take(scanner), srv, p, "S", reply)
            t += rng.uniform(0.001, 0.02)
    w.step(
        f"{prefix}.port_scan", "SYN scan of the patient-record and file servers' top ports",
        t0, t, [scanner], [h.ip for h in targets], "T1046", "TA0007",
        ["behaviour.port_scan"],
        f"{scanner.ip} probes {len(_TOP_PORTS)} TCP ports on each of {len(targets)} servers.",
    )  # fmt: skip
    return t


SCENARIO = Recon()
