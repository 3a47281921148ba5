"""A hospital site to generate traffic for: its hosts by role, its networks, its services.

`build_site(profile, rng)` lays out one site of a profile — `chu` (a university hospital),
`ch` (a general hospital) or `clinic` — on a fixed address plan, one VLAN per zone as
hospitals segment them (and as DOMAIN.md describes):

| zone | VLAN | network | who |
|---|---|---|---|
| users | 10 | 10.20.0.0/22 | workstations |
| servers | 20 | 10.20.20.0/24 | domain controllers, file servers, patient record (DPI), |
| | | | interface engine (EAI), HL7 peers, backup, remote desktop (RDS) |
| imaging | 30 | 10.20.30.0/24 | PACS, modalities (CT, MR, CR, US), viewers |
| biomed | 40 | 10.20.40.0/24 | bedside monitors and their central stations |
| lab & print | 60 | 10.20.60.0/24 | lab analysers, the lab system, printers |
| guest Wi-Fi | 50 | 172.20.0.0/22 | patients' and visitors' devices |

Internet services live in the documentation ranges (RFC 5737), so a generated capture never
names a real address; their names are the real-looking ones a hospital resolves. Every host
is a `wire.hosts.Host`; `Site.role(name)` lists a role's hosts, `Site.by_ip` finds one.
Deterministic for the `rng` given. Names and addresses are made up.
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass, field

from tocsin.exercise.wire.hosts import Host

PROFILES = ("chu", "ch", "clinic")

# hosts per role and profile; sizes scale with the site (a CHU runs several thousand beds'
# worth of devices: these are the ones a sensor at the core sees talk in an hour)
_COUNTS: dict[str, dict[str, int]] = {
    "chu": {
        "workstation": 160, "dc": 2, "file_server": 2, "dpi": 1, "hl7_engine": 1,
        "hl7_peer": 4, "pacs": 1, "modality": 10, "viewer": 8, "monitor": 32,
        "central_station": 2, "lab_analyser": 6, "lab_system": 1, "printer": 12,
        "guest": 40, "backup": 1, "rds": 1,
    },
    "ch": {
        "workstation": 70, "dc": 2, "file_server": 1, "dpi": 1, "hl7_engine": 1,
        "hl7_peer": 3, "pacs": 1, "modality": 5, "viewer": 4, "monitor": 16,
        "central_station": 1, "lab_analyser": 3, "lab_system": 1, "printer": 6,
        "guest": 20, "backup": 1, "rds": 1,
    },
    "clinic": {
        "workstation": 25, "dc": 1, "file_server": 1, "dpi": 1, "hl7_engine": 1,
        "hl7_peer": 2, "pacs": 1, "modality": 2, "viewer": 2, "monitor": 6,
        "central_station": 1, "lab_analyser": 1, "lab_system": 1, "printer": 3,
        "guest": 8, "backup": 1, "rds": 1,
    },
}  # fmt: skip

# role -> (VLAN, network prefix, first host number, TTL of its stack, name prefix)
_ZONES: dict[str, tuple[int, str, int, int, str]] = {
    "workstation": (10, "10.20.0.", 20, 128, "PC"),
    "dc": (20, "10.20.20.", 10, 128, "AD"),
    "file_server": (20, "10.20.20.", 20, 128, "FS"),
    "dpi": (20, "10.20.20.", 30, 64, "DPI"),
    "hl7_engine": (20, "10.20.20.", 40, 64, "EAI"),
    "hl7_peer": (20, "10.20.20.", 50, 64, "HL7"),
    "backup": (20, "10.20.20.", 90, 64, "BACKUP"),
    "rds": (20, "10.20.20.", 70, 128, "RDS"),  # remote desktop server, RDP open to the internet
    "pacs": (30, "10.20.30.", 10, 64, "PACS"),
    "modality": (30, "10.20.30.", 20, 64, "MOD"),
    "viewer": (30, "10.20.30.", 60, 128, "VIEW"),
    "monitor": (40, "10.20.40.", 20, 64, "MON"),
    "central_station": (40, "10.20.40.", 10, 64, "CENTRAL"),
    "lab_analyser": (60, "10.20.60.", 20, 64, "LABA"),
    "lab_system": (60, "10.20.60.", 10, 64, "SIL"),
    "printer": (60, "10.20.60.", 100, 255, "PRN"),
    "guest": (50, "172.20.0.", 20, 64, "GUEST"),
}

HOME_NET = ("10.20.0.0/16", "172.20.0.0/22")

# (name, address): what the site's users reach on the internet, in RFC 5737 ranges
_INTERNET = (
    ("www.ameli.fr", "198.51.100.10"),
    ("www.has-sante.fr", "198.51.100.11"),
    ("www.doctolib.fr", "198.51.100.12"),
    ("login.microsoftonline.com", "198.51.100.20"),
    ("outlook.office365.com", "198.51.100.21"),
    ("www.msftconnecttest.com", "198.51.100.22"),
    ("settings-win.data.microsoft.com", "198.51.100.23"),
    ("www.google.com", "198.51.100.30"),
    ("fonts.gstatic.com", "198.51.100.31"),
    ("www.legifrance.gouv.fr", "198.51.100.40"),
    ("www.vidal.fr", "198.51.100.41"),
    ("esante.gouv.fr", "198.51.100.42"),
    ("www.lemonde.fr", "198.51.100.50"),
    ("www.youtube.com", "198.51.100.51"),
    ("www.wikipedia.org", "198.51.100.52"),
    ("cdn.jsdelivr.net", "198.51.100.53"),
    ("mssante.fr", "198.51.100.60"),
    ("portail.dmp.fr", "198.51.100.61"),
    ("ctldl.windowsupdate.com", "198.51.100.24"),
    ("download.windowsupdate.com", "198.51.100.25"),
    ("v10.events.data.microsoft.com", "198.51.100.26"),
    ("fe3cr.delivery.mp.microsoft.com", "198.51.100.29"),
)
_GUEST_INTERNET = (
    ("www.instagram.com", "198.51.100.70"),
    ("www.netflix.com", "198.51.100.71"),
    ("api.whatsapp.net", "198.51.100.72"),
    ("www.leboncoin.fr", "198.51.100.73"),
    ("www.youtube.com", "198.51.100.51"),
    ("www.google.com", "198.51.100.30"),
)
RESOLVER = ("dns.resolver.example", "198.51.100.2")  # the DCs' DNS forwarder
NTP_SERVER = ("ntp.example", "198.51.100.3")


@dataclass(frozen=True, slots=True)
class Service:
    """An internet service: the name users resolve and the host answering."""

    name: str
    host: Host


@dataclass(slots=True)
class Site:
    profile: str
    name: str  # "CHU de Valmont"
    domain: str  # the Active Directory DNS domain ("chu-valmont.local")
    realm: str  # its Kerberos realm ("CHU-VALMONT.LOCAL")
    netbios: str  # "CHUVALMONT"
    hosts: dict[str, list[Host]]
    internet: list[Service]
    guest_internet: list[Service]
    resolver: Host
    ntp: Host
    gateway: Host  # the router the sensor sees external traffic pass (its MAC on the frames)
    users: list[str] = field(default_factory=list)  # sAMAccountNames
    ae_titles: dict[Host, str] = field(default_factory=dict)  # DICOM AE title of a host
    hl7_apps: dict[Host, str] = field(default_factory=dict)  # HL7 application of a host
    by_ip: dict[str, Host] = field(default_factory=dict)
    admin_workstations: list[Host] = field(default_factory=list)  # the IT team's PCs
    shares: dict[Host, list[str]] = field(default_factory=dict)  # disk shares of a file server
    accounts: dict[str, str] = field(default_factory=dict)  # role -> account ("backup", "admin")

    def staff_workstations(self) -> list[Host]:
        """The workstations of the care and administrative staff (not the IT team's): where a
        phishing mail is opened, what an intruder compromises first."""
        return [h for h in self.role("workstation") if h not in self.admin_workstations]

    def role(self, name: str) -> list[Host]:
        return self.hosts.get(name, [])

    def one(self, name: str) -> Host:
        """The first host of a role (the PACS, the DPI server...)."""
        return self.hosts[name][0]

    def external(self, name: str, ip: str) -> Host:
        """An internet host (attacker, C2, exfiltration target) behind the site's gateway."""
        h = Host.make(name, ip, mac=self.gateway.mac)
        self.by_ip.setdefault(ip, h)
        return h


_FIRST = ("marie", "jean", "pierre", "sophie", "claire", "nicolas", "julie", "thomas",
          "camille", "laurent", "isabelle", "antoine", "nathalie", "julien", "celine", "hugo",
          "emma", "lucas", "chloe", "paul", "sarah", "louis", "manon", "david")  # fmt: skip
_LAST = ("martin", "bernard", "dubois", "thomas", "robert", "richard", "petit", "durand",
         "leroy", "moreau", "simon", "laurent", "lefebvre", "michel", "garcia", "david",
         "bertrand", "roux", "vincent", "fournier", "morel", "girard", "andre",
         "mercier")  # fmt: skip
_MODALITIES = ("CT", "MR", "CR", "US", "DX", "MG", "NM", "XA")


def build_site(profile: str, rng: random.Random) -> Site:
    """The hosts of one site of `profile` (see the module docstring); `ValueError` for an
    unknown profile."""
    if profile not in _COUNTS:
        raise ValueError(f"unknown profile {profile!r}: choose one of {', '.join(PROFILES)}")
    city = "Valmont" if profile == "chu" else "Saint-Aubin" if profile == "ch" else "Les Tilleuls"
    kind = {"chu": "CHU", "ch": "CH", "clinic": "Clinique"}[profile]
    slug = f"{kind.lower()}-{city.lower().replace(' ', '-')}"
    hosts: dict[str, list[Host]] = {}
    by_ip: dict[str, Host] = {}
    for role, count in _COUNTS[profile].items():
        vlan, net, first, ttl, prefix = _ZONES[role]
        out = []
        for i in range(count):
            n = first + i
            ip = str(ipaddress.IPv4Address(f"{net}0") + n)
            name = f"{prefix}{i + 1:03d}" if count > 1 else prefix
            h = Host.make(name, ip, vlan=vlan, ttl=ttl)
            out.append(h)
            by_ip[ip] = h
        hosts[role] = out
    gateway = Host.make("GW", "10.20.20.1", vlan=20, ttl=255)
    site = Site(
        profile=profile,
        name=f"{kind} de {city}" if profile != "clinic" else f"{kind} {city}",
        domain=f"{slug}.local",
        realm=f"{slug}.local".upper(),
        netbios=slug.replace("-", "").upper()[:15],
        hosts=hosts,
        internet=[],
        guest_internet=[],
        resolver=Host.make(RESOLVER[0], RESOLVER[1], mac=gateway.mac),
        ntp=Host.make(NTP_SERVER[0], NTP_SERVER[1], mac=gateway.mac),
        gateway=gateway,
        by_ip=by_ip,
    )
    site.internet = [Service(n, site.external(n, ip)) for n, ip in _INTERNET]
    site.guest_internet = [Service(n, site.external(n, ip)) for n, ip in _GUEST_INTERNET]
    site.users = sorted(
        {f"{rng.choice(_FIRST)}.{rng.choice(_LAST)}" for _ in range(len(hosts["workstation"]))}
    )
    for i, h in enumerate(hosts["modality"]):
        site.ae_titles[h] = f"{_MODALITIES[i % len(_MODALITIES)]}{i // len(_MODALITIES) + 1:02d}"
    for i, h in enumerate(hosts["viewer"]):
        site.ae_titles[h] = f"VIEWER{i + 1:02d}"
    site.ae_titles[site.one("pacs")] = "PACS_MAIN"
    site.hl7_apps[site.one("hl7_engine")] = "EAI"
    for h, app in zip(hosts["hl7_peer"], ("ADT_GAM", "RIS", "PHARMA", "BLOC"), strict=False):
        site.hl7_apps[h] = app
    site.hl7_apps[site.one("lab_system")] = "SIL"
    site.admin_workstations = hosts["workstation"][:2]
    for i, h in enumerate(hosts["file_server"]):  # the first holds the care and service shares
        site.shares[h] = ["Services", "Soins", "Homes$"] if i == 0 else ["Direction", "Homes$"]
    site.accounts.update(backup="svc-backup", admin=f"adm-{site.users[0].split('.')[-1]}")
    for i, h in enumerate(hosts["central_station"]):
        site.hl7_apps[h] = f"MONITORING{i + 1}"
    return site
