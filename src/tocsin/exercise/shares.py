"""What a hospital's file shares hold: the folders and files the Windows background reads
and writes, and the ransomware scenario encrypts.

The catalogue is a pure function of names: `folders(site, server)` lists the (share, folder)
pairs of a file server (department folders of `Services`, care folders of `Soins`, the
administration's `Direction`, one home folder per user on `Homes$`), and `files(share,
folder)` the documents of one folder, (name, size) each, drawn from a generator seeded with
the share and folder names: the same folder holds the same files whoever opens it and
whenever (a user in the afternoon, the backup at night). Sizes follow each type's usual
spread (log-normal, clipped): Word 12 kB-4 MB around 45 kB, Excel around 60 kB, PDF around
300 kB, PowerPoint around 1.8 MB, photos around 1.5 MB. Names are made up; nothing here
names a patient.
"""

from __future__ import annotations

import math
import random
from functools import cache

from tocsin.exercise.site import Site
from tocsin.exercise.wire.hosts import Host

_DEPTS = (
    "Cardiologie", "Urgences", "Pédiatrie", "Maternité", "Chirurgie viscérale", "Orthopédie",
    "Radiologie", "Laboratoire", "Pharmacie", "Bloc opératoire", "Réanimation",
    "Médecine interne", "Gériatrie", "Oncologie", "Neurologie", "Pneumologie",
    "Consultations externes", "Bureau des admissions", "Cadres de santé",
    "Secrétariat médical",
)  # fmt: skip
_DEPT_SUB = ("Plannings", "Protocoles", "Réunions", "Formations", "Commandes", "Qualité")
_SOINS = (
    "Protocoles de soins", "Transmissions", "Plannings infirmiers", "Fiches techniques",
    "Hygiène", "Douleur", "Pharmacovigilance", "Identitovigilance", "Procédures dégradées",
    "Plan blanc",
)  # fmt: skip
_DIRECTION = (
    "Conseil de surveillance", "Finances\\Budget 2024", "Finances\\Budget 2023",
    "Ressources humaines", "Marchés publics", "Certification HAS", "Communication",
    "Affaires médicales", "Travaux",
)  # fmt: skip
_HOME_SUB = ("Documents", "Bureau")
_TOPICS = (
    "hygiene-des-mains", "transfusion", "prevention-des-chutes", "douleur", "escarres",
    "isolement-contact", "sondage-urinaire", "voie-veineuse-peripherique",
    "identitovigilance", "circuit-du-medicament", "dechets-dasri", "plan-blanc",
    "chariot-urgence", "bionettoyage", "antibioprophylaxie", "contention", "fin-de-vie",
    "accueil-nouveaux-arrivants", "astreintes", "check-list-bloc",
)  # fmt: skip
_MONTHS = ("janvier", "fevrier", "mars", "avril", "mai", "juin", "juillet", "aout",
           "septembre", "octobre", "novembre", "decembre")  # fmt: skip
_NAMES = (
    ("planning-{month}-{year}", ".xlsx"), ("protocole-{topic}-v{n}", ".docx"),
    ("procedure-{topic}", ".pdf"), ("CR-reunion-{date}", ".docx"),
    ("fiche-technique-{topic}", ".pdf"), ("commande-{date}", ".xlsx"),
    ("tableau-de-garde-{month}", ".xlsx"), ("note-de-service-{year}-{n}", ".pdf"),
    ("formation-{topic}", ".pptx"), ("photo-{date}-{n}", ".jpg"),
    ("suivi-indicateurs-{month}", ".xlsx"), ("courrier-{date}", ".docx"),
)  # fmt: skip
# extension -> (median bytes, log-normal sigma, smallest, largest)
SIZES = {
    ".docx": (45e3, 0.9, 12e3, 4e6),
    ".xlsx": (60e3, 1.0, 10e3, 8e6),
    ".pdf": (300e3, 1.1, 30e3, 15e6),
    ".pptx": (1.8e6, 0.9, 150e3, 30e6),
    ".jpg": (1.5e6, 0.5, 150e3, 6e6),
}
HOME = "Homes$"


def size_of(rng: random.Random, ext: str) -> int:
    """A file size for extension `ext` (see `SIZES`)."""
    median, sigma, lo, hi = SIZES.get(ext, SIZES[".docx"])
    return int(min(hi, max(lo, rng.lognormvariate(math.log(median), sigma))))


def document(rng: random.Random) -> tuple[str, int]:
    """A new document's (name, size): a planning, a protocol, meeting minutes..."""
    stem, ext = rng.choice(_NAMES)
    y = rng.choice((2022, 2023, 2023, 2024, 2024, 2024))
    month = rng.randrange(1, 13 if y < 2024 else 3)  # the exercise's March 2024 at the latest
    name = stem.format(
        month=_MONTHS[month - 1], year=y, topic=rng.choice(_TOPICS),
        n=rng.randrange(1, 9), date=f"{y}-{month:02d}-{rng.randrange(1, 29):02d}",
    )  # fmt: skip
    return name + ext, size_of(rng, ext)


@cache
def files(share: str, folder: str) -> tuple[tuple[str, int], ...]:
    """The documents of `folder` on `share`, (name, size) each, always the same."""
    rng = random.Random(f"{share}\\{folder}")
    return tuple(sorted(dict(document(rng) for _ in range(rng.randrange(6, 36))).items()))


def folders(site: Site, server: Host) -> list[tuple[str, str]]:
    """The (share, folder) pairs of `server`, in the order a backup walks them: each share
    (see `Site.shares`), its folders, their sub-folders; home folders of the users whose
    home is there (`home_server`)."""
    out: list[tuple[str, str]] = []
    depts = _DEPTS[: min(len(_DEPTS), 4 + len(site.role("workstation")) // 8)]
    for share in site.shares.get(server, []):
        if share == "Services":
            out += [(share, f"{d}\\{sub}") for d in depts for sub in _DEPT_SUB]
        elif share == "Soins":
            out += [(share, f) for f in _SOINS]
        elif share == "Direction":
            out += [(share, f) for f in _DIRECTION]
        elif share == HOME:
            homes = _home_servers(site)
            out += [(share, f"{u}\\{sub}") for i, u in enumerate(site.users)
                    if homes[i % len(homes)] == server for sub in _HOME_SUB]  # fmt: skip
    return out


def _home_servers(site: Site) -> list[Host]:
    return [h for h in site.role("file_server") if HOME in site.shares.get(h, [])]


def home_server(site: Site, user: str) -> Host:
    """The file server holding `user`'s home folder: the users, in order, spread over the
    servers that have a `Homes$` share."""
    homes = _home_servers(site)
    return homes[site.users.index(user) % len(homes)] if user in site.users else homes[0]


def listing(share: str, folder: str) -> list[tuple[str, int]]:
    """What a directory listing of `folder` shows: its files (sub-folders of a department
    folder included, as negative sizes)."""
    subs = [(sub, -1) for sub in _DEPT_SUB] if share == "Services" and "\\" not in folder else []
    return subs + list(files(share, folder))
