"""The site's plumbing: time, addresses, directory look-ups of appliances, printing, admin RDP.

Activities (`ACTIVITIES`, in this order):

- `time_sync`: NTP. Workstations and Windows servers ask their domain controller as w32time
  does (every 1024-4096 s per host), Linux servers, the PACS, the lab system and printers as
  ntpd/SNTP do (every 1024 s), the other DCs ask the first one (the PDC emulator), which
  asks `site.ntp`. Each host polls on its own fixed phase (`periodic`), so a host's polls are
  regular, as real ones are, and spread over the period across hosts.
- `addresses`: DHCP of the users' VLAN, served by the first DC through the VLAN's router
  (relay 10.20.0.1): a full DISCOVER/OFFER/REQUEST/ACK, relayed, when a PC boots (random,
  with the day's rhythm), and every PC's unicast renewal at half its one-day lease.
- `directory_binds`: appliances that read Active Directory with LDAP simple binds on TCP
  389: the printers (scan-to-email address book), the interface engine (its account sync)
  and the PACS (its users' logins).
- `printing`: jobs from workstations to their floor's printer, as raw PJL + PostScript on
  TCP 9100 (Windows' standard TCP/IP port, the printer only acknowledging) or as an IPP
  Print-Job over HTTP on 631 (a PDF; `ipp_print_job`, `ipp_job_created`); sizes log-normal
  around 120 kB.
- `remote_desktop`: the IT team's two admin workstations (`site.admin_workstations`) opening
  RDP sessions to the Windows servers, staff opening the remote-desktop server (`rds`) from
  their PCs, and a few remote users (doctors on call, a maintenance vendor) reaching it
  from home addresses on the internet: all successful NLA logins followed by a desktop.

Rates are per host per hour at full activity. Everything is internal or, for RDS and NTP,
expected internet traffic; nothing here fails logins or scans.
"""

from __future__ import annotations

import functools
import math
import random
import struct
from collections.abc import Iterator

from tocsin.exercise.background.web import internet_rtt, preferred_dc, stable
from tocsin.exercise.proto import dhcp, http, ldap, ntp, rdp
from tocsin.exercise.site import Site
from tocsin.exercise.wire.hosts import Host
from tocsin.exercise.wire.turns import client, server
from tocsin.exercise.world import World

_LINUX_NTP = ("dpi", "hl7_engine", "hl7_peer", "backup", "pacs", "lab_system", "printer")
_WINDOWS_SERVERS = ("file_server", "rds")
_LEASE_S = 86_400
_MASK = "255.255.252.0"  # the users' VLAN, 10.20.0.0/22
_BOOT_PER_H = 0.04
_PRINT_PER_H = 1.2
_RDP_ADMIN_PER_H = 0.6
_RDS_STAFF_PER_H = 0.05
_RDS_REMOTE_PER_H = 0.6
_LDAP_PER_H = {"printer": 0.3, "hl7_engine": 1.0, "pacs": 2.0}
_LDAP_ACCOUNT = {"printer": "svc-scan", "hl7_engine": "svc-eai", "pacs": "svc-pacs"}
REMOTE_HOMES = ("192.0.2.41", "192.0.2.57", "192.0.2.88", "192.0.2.130")
_PJL = "\x1b%-12345X"  # PJL's universal exit language
_POOL = 1 << 20


def periodic(t0: float, t1: float, period: float, phase: float) -> Iterator[float]:
    """The times `k * period + phase` in [t0, t1): a host's fixed schedule, stateless
    across slices."""
    at = math.ceil((t0 - phase) / period) * period + phase
    while at < t1:
        yield at
        at += period


def mac_text(h: Host) -> str:
    return h.mac.hex(":")


def time_sync(w: World, t0: float, t1: float) -> None:
    """NTP polls of the site (see the module docstring)."""
    site, tr, rng = w.site, w.trace, w.rng
    dcs = site.role("dc")
    pdc = dcs[0]
    clients: list[tuple[Host, Host, bool, float]] = []
    for h in site.role("workstation"):
        clients.append((h, preferred_dc(site, h), True, 1024.0 * 2 ** (stable("ntp", h.ip) % 3)))
    for role in _WINDOWS_SERVERS:
        clients += [(h, preferred_dc(site, h), True, 1024.0) for h in site.role(role)]
    for role in _LINUX_NTP:
        clients += [(h, preferred_dc(site, h), False, 1024.0) for h in site.role(role)]
    clients += [(dc, pdc, True, 3600.0) for dc in dcs[1:]]
    for cli, srv, windows, period in clients:
        for at in periodic(t0, t1, period, stable("ntp-phase", cli.ip) % int(period)):
            at += rng.uniform(0.0, 0.5)
            turns = ntp.exchange(rng, at, windows=windows, stratum=3, ref_id=site.ntp.ip)
            tr.udp_exchange(at, cli, 123, srv, 123, turns, rtt_s=0.0005)
    for at in periodic(t0, t1, 1024.0, stable("ntp-phase", pdc.ip) % 1024):
        turns = ntp.exchange(rng, at, windows=True, stratum=2)
        tr.udp_exchange(at, pdc, 123, site.ntp, 123, turns, rtt_s=internet_rtt(site.ntp.name))


def _relay(site: Site) -> Host:
    return Host.make("GW-VLAN10", "10.20.0.1", mac=site.gateway.mac, ttl=255)


def addresses(w: World, t0: float, t1: float) -> None:
    """DHCP leases and renewals of the workstations (see the module docstring)."""
    site, tr, rng = w.site, w.trace, w.rng
    wss = site.role("workstation")
    dhcp_srv = site.one("dc")
    relay = _relay(site)
    dns_servers = [h.ip for h in site.role("dc")]
    for t in w.times(w.count(_BOOT_PER_H * len(wss), t0, t1), t0, t1):
        ws = rng.choice(wss)
        turns = dhcp.lease(
            rng, mac_text(ws), ws.name, ws.ip, dhcp_srv.ip, lease_s=_LEASE_S, mask=_MASK,
            router=relay.ip, dns_servers=dns_servers, domain=site.domain, relay_ip=relay.ip,
        )  # fmt: skip
        tr.udp_exchange(t, relay, 67, dhcp_srv, 67, turns)
    for ws in wss:
        for at in periodic(t0, t1, _LEASE_S / 2, stable("dhcp", ws.ip) % (_LEASE_S // 2)):
            xid = rng.getrandbits(32)
            mac = mac_text(ws)
            req = dhcp.request(xid, mac, ws.ip, dhcp_srv.ip, ws.name, renewal=True)
            ack = dhcp.ack(
                xid, mac, ws.ip, dhcp_srv.ip, lease_s=_LEASE_S, mask=_MASK, router=relay.ip,
                dns_servers=dns_servers, domain=site.domain, renewal=True,
            )  # fmt: skip
            tr.udp_exchange(at, ws, 68, dhcp_srv, 67, [client(req), server(ack, 0.002)])


def directory_binds(w: World, t0: float, t1: float) -> None:
    """LDAP simple binds of appliances to their DC (see the module docstring)."""
    site, tr, rng = w.site, w.trace, w.rng
    for role, rate in _LDAP_PER_H.items():
        hosts = site.role(role)
        if not hosts:
            continue
        account = _LDAP_ACCOUNT[role]
        password = f"Svc!{stable('pw', site.domain, account):08x}"
        rhythm = role != "hl7_engine"
        for t in w.times(w.count(rate * len(hosts), t0, t1, rhythm=rhythm), t0, t1):
            h = rng.choice(hosts)
            dc = preferred_dc(site, h)
            turns = ldap.session(
                rng, domain=site.domain, dc=dc.name.lower(), user=account, password=password
            )
            tr.tcp(t, h, w.ports.take(h), dc, 389, turns)


def _ipp_attr(tag: int, name: str, value: bytes) -> bytes:
    raw = name.encode()
    return struct.pack("!BH", tag, len(raw)) + raw + struct.pack("!H", len(value)) + value


def ipp_print_job(request_id: int, printer_uri: str, user: str, job: str) -> bytes:
    """An IPP/2.0 Print-Job request (RFC 8011) up to its end-of-attributes tag; the
    document (PDF) follows it in the HTTP body."""
    return b"".join((
        struct.pack("!BBHI", 2, 0, 0x0002, request_id),
        b"\x01",
        _ipp_attr(0x47, "attributes-charset", b"utf-8"),
        _ipp_attr(0x48, "attributes-natural-language", b"fr-fr"),
        _ipp_attr(0x45, "printer-uri", printer_uri.encode()),
        _ipp_attr(0x42, "requesting-user-name", user.encode()),
        _ipp_attr(0x42, "job-name", job.encode()),
        _ipp_attr(0x49, "document-format", b"application/pdf"),
        b"\x03",
    ))  # fmt: skip


def ipp_job_created(request_id: int, printer_uri: str, job_id: int) -> bytes:
    """The printer's successful-ok answer: the job's id, URI and state (pending)."""
    return b"".join((
        struct.pack("!BBHI", 2, 0, 0x0000, request_id),
        b"\x01",
        _ipp_attr(0x47, "attributes-charset", b"utf-8"),
        _ipp_attr(0x48, "attributes-natural-language", b"fr-fr"),
        b"\x02",
        _ipp_attr(0x21, "job-id", struct.pack("!i", job_id)),
        _ipp_attr(0x45, "job-uri", f"{printer_uri}/{job_id}".encode()),
        _ipp_attr(0x23, "job-state", struct.pack("!i", 3)),
        b"\x03",
    ))  # fmt: skip


@functools.lru_cache(maxsize=1)
def _postscript_pool() -> bytes:
    """1 MiB of PostScript page content (text, moves, fonts), built once from a fixed seed:
    what a Windows PostScript driver sends, sliced per job."""
    rng = random.Random(0x50532D31)
    words = ("Compte", "rendu", "patient", "service", "examen", "resultat", "Dr", "date",
             "ordonnance", "posologie", "hospitalisation", "unite", "sortie")  # fmt: skip
    out, size = [], 0
    while size < _POOL:
        y = rng.randint(40, 760)
        line = (
            f"{rng.randint(30, 80)} {y} moveto /F{rng.randint(1, 3)} {rng.choice((9, 10, 12))} "
            f"selectfont ({' '.join(rng.choices(words, k=rng.randint(2, 8)))}) show\n"
        )
        out.append(line)
        size += len(line)
    return "".join(out).encode()[:_POOL]


def _pjl_job(w: World, user: str, job: str, size: int) -> bytes:
    """A raw print job: PJL job header, PostScript pages, PJL end of job."""
    head = (
        f'{_PJL}@PJL JOB NAME="{job}"\r\n@PJL SET USERNAME="{user}"\r\n'
        f"@PJL SET DUPLEX=ON\r\n@PJL SET RESOLUTION=600\r\n@PJL ENTER LANGUAGE=POSTSCRIPT\r\n"
        f"%!PS-Adobe-3.0\n%%Title: {job}\n%%Creator: PScript5.dll Version 5.2.2\n"
        f"%%Pages: (atend)\n%%EndComments\n"
    ).encode()
    pool = _postscript_pool()
    body = []
    while size > 0:
        take = min(size, _POOL // 2)
        at = w.rng.randrange(_POOL - take + 1)
        body.append(pool[at : at + take])
        size -= take
    tail = f'\n%%EOF\n{_PJL}@PJL EOJ NAME="{job}"\r\n{_PJL}'.encode()
    return head + b"".join(body) + tail


def printing(w: World, t0: float, t1: float) -> None:
    """Print jobs to the floor's printer (see the module docstring)."""
    site, tr, rng = w.site, w.trace, w.rng
    wss, printers = site.role("workstation"), site.role("printer")
    if not printers:
        return
    for t in w.times(w.count(_PRINT_PER_H * len(wss), t0, t1), t0, t1):
        ws = rng.choice(wss)
        prn = printers[stable("printer", ws.ip) % len(printers)]
        user = rng.choice(site.users) if site.users else "utilisateur"
        job = rng.choice(("Compte rendu", "Ordonnance", "Etiquettes", "Planning", "Courrier"))
        size = min(20_000_000, int(rng.lognormvariate(math.log(120_000), 1.0)))
        if rng.random() < 0.7:
            data = _pjl_job(w, user, f"{job} - {rng.randint(1000, 9999)}", size)
            tr.tcp(t, ws, w.ports.take(ws), prn, 9100, [client(data)], window=16_384)
            continue
        uri = f"ipp://{prn.name.lower()}.{site.domain}:631/ipp/print"
        rid = rng.randint(1, 5000)
        body = ipp_print_job(rid, uri, user, job) + b"%PDF-1.7\n" + http.filler(rng, size)
        req = http.request(
            "POST", f"{prn.name.lower()}.{site.domain}:631", "/ipp/print",
            user_agent="Microsoft IPP Class Driver", accept="", body=body,
            content_type="application/ipp",
        )  # fmt: skip
        answer = ipp_job_created(rid, uri, rng.randint(100, 9999))
        resp = http.response(200, answer, content_type="application/ipp", server="")
        tr.tcp(t, ws, w.ports.take(ws), prn, 631, [client(req), server(resp, 0.05)], window=16_384)


def _rdp(w: World, t: float, cli: Host, srv: Host, user: str, minutes: float) -> None:
    site = w.site
    fqdn = f"{srv.name.lower()}.{site.domain}"
    duration = min(45.0, minutes) * 60
    turns = rdp.session(w.rng, user, True, server_name=fqdn, sni=fqdn, duration_s=duration)
    rtt = 0.0008 if cli.ip.startswith(("10.", "172.")) else internet_rtt(cli.ip)
    w.trace.tcp(t, cli, w.ports.take(cli), srv, 3389, turns, rtt_s=rtt)


def remote_desktop(w: World, t0: float, t1: float) -> None:
    """Admin, staff and remote RDP sessions (see the module docstring)."""
    site, rng = w.site, w.rng
    servers = [h for r in ("dc", "file_server", "rds") for h in site.role(r)]
    users = site.users or ["utilisateur"]
    admins = site.admin_workstations
    for t in w.times(w.count(_RDP_ADMIN_PER_H * len(admins), t0, t1), t0, t1):
        adm = rng.choice(admins)
        who = users[stable("admin", adm.ip) % len(users)]
        _rdp(
            w,
            t,
            adm,
            rng.choice(servers),
            f"adm-{who.split('.')[-1]}",
            rng.lognormvariate(2.0, 0.7),
        )
    rds = site.role("rds")
    if not rds:
        return
    wss = site.role("workstation")
    for t in w.times(w.count(_RDS_STAFF_PER_H * len(wss), t0, t1), t0, t1):
        _rdp(w, t, rng.choice(wss), rds[0], rng.choice(users), rng.lognormvariate(2.5, 0.6))
    for t in w.times(w.count(_RDS_REMOTE_PER_H, t0, t1), t0, t1):
        i = rng.randrange(len(REMOTE_HOMES))
        home = site.external(f"home-{i + 1}", REMOTE_HOMES[i])
        _rdp(
            w,
            t,
            home,
            rds[0],
            users[stable("remote", i) % len(users)],
            rng.lognormvariate(2.8, 0.5),
        )


ACTIVITIES = (time_sync, addresses, directory_binds, printing, remote_desktop)
