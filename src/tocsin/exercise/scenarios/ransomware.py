"""Ransomware encrypting the file servers' shares from a compromised host, as LockBit 3.0 did
at Corbeil-Essonnes.

The encryptor, run with a domain admin account, reaches the file server by address (NTLM),
lists its shares (srvsvc NetShareEnumAll), then walks each share folder by folder: every
folder listed, a ransom note (`<id>.README.txt`) written in it, every file opened with
read, write and delete access, its head read and overwritten (intermittent encryption:
LockBit 3.0 encrypts the first 256 KiB of a file and appends the encrypted key), the file
renamed with the victim's random 9-character extension, closed. A few files a second,
hundreds in minutes; nothing like it happens on a share in normal work (a user saves a
document every few minutes, the backup only reads).

`encrypt` is the step, callable alone (a campaign chains it after `lateral_psexec.spread`):
it writes the traffic from `t`, records `<prefix>.encrypt` and returns its end.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass

from tocsin.exercise.proto import dcerpc, windows
from tocsin.exercise.proto.smb2 import Smb2Session
from tocsin.exercise.shares import files, folders, listing
from tocsin.exercise.wire.hosts import Host
from tocsin.exercise.world import World

PART = 256 << 10  # bytes encrypted at the head of each file


def encrypt(
    w: World,
    t: float,
    source: Host,
    server: Host,
    shares: Sequence[str],
    *,
    prefix: str = "ransomware",
    user: str | None = None,
    n_files: int | None = None,
) -> float:
    """Encrypt about `n_files` files (300-800 by default) of `shares` on `server` from
    `source` as `user` (the site's admin account by default), folder by folder in a random
    order, a few files a second. Records `<prefix>.encrypt`; returns the end."""
    site, rng = w.site, w.rng
    user = user or site.accounts.get("admin", "administrateur")
    n_files = n_files or rng.randrange(300, 800)
    ext = "." + "".join(rng.choice(string.ascii_letters) for _ in range(9))
    s = Smb2Session(rng, client=source.name, server=server.name, user=user,
                    domain=site.netbios, dns_domain=site.domain, target=server.ip,
                    now=t)  # fmt: skip
    s.negotiate()
    s.session_setup()
    ipc = s.tree_connect(f"\\\\{server.ip}\\IPC$")
    if ipc is not None:
        listed = [("ADMIN$", dcerpc.SHARE_SPECIAL, "Administration à distance"),
                  ("C$", dcerpc.SHARE_SPECIAL, "Partage par défaut"),
                  ("IPC$", dcerpc.SHARE_IPC, "IPC distant")]  # fmt: skip
        listed += [(sh, dcerpc.SHARE_DISK, "") for sh in site.shares.get(server, [])]
        dcerpc.share_enum(s, ipc, rng, server=server.ip, shares=listed)
        s.tree_disconnect(ipc)
    places = [(sh, f) for sh, f in folders(site, server) if sh in shares]
    rng.shuffle(places)
    done = 0
    for share in shares:
        tree = s.tree_connect(f"\\\\{server.ip}\\{share}")
        if tree is None:
            continue
        batch: list[tuple[str, int]] = []
        for sh, folder in places:
            if sh != share or done + len(batch) >= n_files:
                continue
            s.list_dir(tree, folder, listing(sh, folder))
            batch += [(f"{folder}\\{name}", size) for name, size in files(sh, folder)]
        batch = batch[: max(0, n_files - done)]
        windows.encrypt_files(s, tree, batch, ext=ext, note_name=f"{ext[1:]}.README.txt",
                              pace_s=0.25, part=PART)  # fmt: skip
        done += len(batch)
        s.tree_disconnect(tree)
    s.logoff()
    end = w.trace.tcp(t, source, w.ports.take(source), server, 445, s.turns())
    w.step(
        f"{prefix}.encrypt", "Files of the file server's shares encrypted and renamed", t, end,
        [source], [server], "T1486", "TA0040", ["behaviour.smb_ransomware"],
        f"{source.ip} rewrites and renames {done} files of {', '.join(shares)} on "
        f"{server.ip} to *{ext} in {end - t:.0f} s, a ransom note in every folder.",
    )  # fmt: skip
    return end


@dataclass(frozen=True, slots=True)
class Ransomware:
    name: str = "ransomware"
    summary: str = (
        "A compromised workstation with a domain admin account encrypts the file server's "
        "shares over SMB: hundreds of files rewritten and renamed in minutes, ransom notes."
    )
    duration_s: float = 600.0

    def inject(self, w: World, t: float) -> float:
        site, rng = w.site, w.rng
        pcs = site.staff_workstations()
        source = rng.choice(pcs)
        server = site.one("file_server")
        return encrypt(w, t, source, server, site.shares[server], prefix=self.name)


SCENARIO = Ransomware()
