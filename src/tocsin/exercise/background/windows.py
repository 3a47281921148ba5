"""The Windows domain of a hospital site, as the sensor sees it between the users' VLAN and
the servers: Kerberos to the domain controllers, SMB to their SYSVOL and to the file servers.

Activities (`ACTIVITIES`, each `fn(w, t0, t1)`; counts scale with the workstations and the
day/night rhythm):

- `logons`: users opening a session on a workstation, all day and in bursts at the shift
  changes (7:00, 14:00, 21:00): Kerberos AS exchange (PREAUTH_REQUIRED, then the TGT) and
  the service tickets a logon asks for (host/, ldap/ and cifs/ of the DC, cifs/ of the file
  servers), Group Policy read from the DC's SYSVOL, the network drives mapped (`Services`,
  `Soins`, the user's home folder on `Homes$`). About one logon in seven starts with a
  mistyped password (PREAUTH_FAILED, retyped a few seconds later): one or two per user and
  day, never a run.
- `documents`: users working on the shares all day, one SMB connection per work episode
  (Windows drops an idle one after minutes): folders listed, documents opened, edited and
  saved as Office saves them (owner file `~$name`, temporary files, renames), new ones
  created; now and then the server's shares listed (srvsvc NetShareEnumAll).
- `tickets`: service tickets and TGT renewals (TGS exchanges) through the day.
- `gpo_background`: every computer's Group Policy background refresh (about every 90-120
  minutes, day and night): gpt.ini of each GPO read from SYSVOL.
- `night_backup`: from 01:00 to 04:00 local time the backup server walks each file server's
  shares folder by folder with its service account (NTLM), listing every folder and reading
  the files changed since the last run; one connection per batch of folders every five
  minutes. Reads only: no write, rename or delete, as a backup does.

Everything is synthetic (see `shares` for the shares' content). LDAP, DNS and NTP of the
same logons belong to `infra`.
"""

from __future__ import annotations

from datetime import datetime

from tocsin.exercise.proto import dcerpc, kerberos, windows
from tocsin.exercise.proto.smb2 import FILE_CREATE, Smb2Session, Smb2Tree
from tocsin.exercise.shares import HOME, document, files, folders, home_server, listing
from tocsin.exercise.site import Site
from tocsin.exercise.wire.hosts import Host
from tocsin.exercise.world import PARIS, World

_SHIFTS = (7.0, 14.0, 21.0)  # local hours of the shift changes
_TYPO = 0.14  # logons starting with a mistyped password (about 10 logons per user a day)
_CHANGED = 0.2  # files an incremental backup finds changed
_BACKUP_FROM, _BACKUP_TO, _BACKUP_EVERY = 60, 230, 5  # local minutes after midnight
# the GPOs every computer applies: the Default Domain Policy and the site's own
GPOS = (
    "{31B2F340-016D-11D2-945F-00C04FB984F9}",
    "{2B9D3E41-8C6A-4F17-A0D5-7E2C9B4F1A63}",
    "{8E1D1C70-2B7A-4C4E-9A7F-3C0B5D2E6A11}",
    "{C4F2A9B3-71D5-4E08-B6A2-5D9E0F1C3B72}",
)


def fqdn(site: Site, h: Host) -> str:
    return f"{h.name.lower()}.{site.domain}"


def smb(
    w: World, client: Host, server: Host, user: str, now: float, *, signing_required: bool = False
) -> Smb2Session:
    """An SMB2 session of `client` to `server` as `user` of the site's domain, NEGOTIATE done
    (`signing_required`: a domain controller's)."""
    s = Smb2Session(w.rng, client=client.name, server=server.name, user=user,
                    domain=w.site.netbios, dns_domain=w.site.domain, now=now,
                    signing_required=signing_required)  # fmt: skip
    s.negotiate()
    return s


# -- logons ----------------------------------------------------------------------------------


def logons(w: World, t0: float, t1: float) -> None:
    """Session openings: 0.5 per workstation an hour at full activity, plus 1.2 per
    workstation an hour in the half hour around each shift change."""
    ws = w.site.role("workstation")
    h = w.local_hour(t0)
    n = w.count(0.5 * len(ws), t0, t1)
    if min(abs(h - s) for s in _SHIFTS) < 0.5:
        n += w.count(1.2 * len(ws), t0, t1, rhythm=False)
    for t in w.times(n, t0, t1):
        logon(w, t, w.rng.choice(ws), w.rng.choice(w.site.users))


def logon(w: World, t: float, pc: Host, user: str) -> float:
    """One user's logon on `pc` from `t`; returns the end of its last conversation."""
    site, tr, rng = w.site, w.trace, w.rng
    dc = rng.choice(site.role("dc"))
    servers = site.role("file_server")
    services = (("host", fqdn(site, pc)), ("ldap", fqdn(site, dc)), ("cifs", fqdn(site, dc)),
                *(("cifs", fqdn(site, fs)) for fs in servers))  # fmt: skip
    tries = 0 if rng.random() >= _TYPO else 1 if rng.random() < 0.9 else 2
    for _ in range(tries):  # a mistyped password, retyped
        for conv in kerberos.logon(rng, user=user, realm=site.realm, host=pc.name, now=t,
                                   password_ok=False):  # fmt: skip
            t = tr.tcp(t, pc, w.ports.take(pc), dc, 88, conv) + rng.uniform(0.001, 0.004)
        t += rng.uniform(3.0, 12.0)
    for conv in kerberos.logon(rng, user=user, realm=site.realm, host=pc.name, now=t,
                               services=services):  # fmt: skip
        t = tr.tcp(t, pc, w.ports.take(pc), dc, 88, conv) + rng.uniform(0.001, 0.01)
    s = smb(w, pc, dc, user, t, signing_required=True)
    s.session_setup_kerberos()
    windows.gpo_refresh(s, dc=dc.name, gpos=GPOS[: rng.randrange(2, len(GPOS) + 1)])
    s.logoff()
    t = tr.tcp(t + rng.uniform(0.02, 0.2), pc, w.ports.take(pc), dc, 445, s.turns())
    home = home_server(site, user)
    for fs in servers:  # the network drives, mapped
        s = smb(w, pc, fs, user, t)
        s.session_setup_kerberos()
        trees = [s.tree_connect(f"\\\\{fs.name}\\{share}") for share in site.shares.get(fs, [])
                 if share != HOME or fs == home]  # fmt: skip
        for tree in trees:
            if tree is not None and tree.path.endswith(HOME):
                s.list_dir(tree, user, [(sub, -1) for sub in ("Documents", "Bureau")])
        _close(s, trees, rng.uniform(60.0, 400.0))
        t = tr.tcp(t + rng.uniform(0.05, 0.5), pc, w.ports.take(pc), fs, 445, s.turns())
    return t


def _close(s: Smb2Session, trees: list[Smb2Tree | None], idle_s: float) -> None:
    """Idle for `idle_s`, then trees disconnected and logoff (the redirector's idle close)."""
    s.pause(idle_s)
    for tree in trees:
        if tree is not None:
            s.tree_disconnect(tree)
    s.logoff()


# -- documents -------------------------------------------------------------------------------


def documents(w: World, t0: float, t1: float) -> None:
    """Work episodes on the file shares: 1.5 per workstation an hour at full activity."""
    ws = w.site.role("workstation")
    for t in w.times(w.count(1.5 * len(ws), t0, t1), t0, t1):
        episode(w, t, w.rng.choice(ws), w.rng.choice(w.site.users))


def episode(w: World, t: float, pc: Host, user: str) -> None:
    """One user's work on one share from `pc`: a folder listed, 1-5 actions (open, edit and
    save, create, list another folder), idle, disconnect."""
    site, rng = w.site, w.rng
    home = home_server(site, user)
    choices = [(fs, sh) for fs in site.role("file_server") for sh in site.shares.get(fs, [])
               if sh != HOME] + [(home, HOME)] * 2  # fmt: skip
    fs, share = rng.choice(choices)
    if share == HOME:
        places = [f"{user}\\Documents", f"{user}\\Bureau"]
    else:
        places = [f for sh, f in folders(site, fs) if sh == share]
    s = smb(w, pc, fs, user, t)
    s.session_setup_kerberos()
    if rng.random() < 0.06:  # Explorer opened on \\server: the shares listed
        ipc = s.tree_connect(f"\\\\{fs.name}\\IPC$")
        if ipc is not None:
            shares = [("IPC$", dcerpc.SHARE_IPC, "IPC distant")]
            shares += [(sh, dcerpc.SHARE_DISK, "") for sh in site.shares.get(fs, [])]
            dcerpc.share_enum(s, ipc, rng, server=fs.name, shares=shares)
            s.tree_disconnect(ipc)
    tree = s.tree_connect(f"\\\\{fs.name}\\{share}")
    if tree is None:
        return
    folder = rng.choice(places)
    s.list_dir(tree, folder, listing(share, folder))
    for _ in range(rng.randrange(1, 6)):
        s.pause(rng.expovariate(1 / 25))
        docs = files(share, folder)
        r = rng.random()
        if r < 0.15:
            folder = rng.choice(places)
            s.list_dir(tree, folder, listing(share, folder))
            continue
        if r < 0.25:  # a new document saved there
            name, size = document(rng)
            f = s.create(tree, f"{folder}\\{name}", disposition=FILE_CREATE)
            if f is not None:
                s.write(f, size)
                s.close(f)
            continue
        name, size = rng.choice(docs)
        path = f"{folder}\\{name}"
        if r < 0.45 and name.endswith((".docx", ".xlsx")):
            windows.edit_document(
                s, tree, path, size, new_size=max(1000, int(size * rng.uniform(0.95, 1.1))),
                edit_s=rng.uniform(20.0, 240.0), excel=name.endswith(".xlsx"),
            )  # fmt: skip
        else:
            windows.read_documents(s, tree, [(path, size)], think_s=0.5)
    _close(s, [tree], rng.uniform(60.0, 420.0))
    w.trace.tcp(t, pc, w.ports.take(pc), fs, 445, s.turns())


# -- Kerberos and Group Policy ---------------------------------------------------------------


def tickets(w: World, t0: float, t1: float) -> None:
    """TGS exchanges: one per workstation an hour at full activity, for a file server, the
    DC's LDAP, the remote desktop server, the patient record's web single sign-on, or the
    TGT itself (renewal)."""
    site, rng = w.site, w.rng
    ws = site.role("workstation")
    spns = [("cifs", fqdn(site, h)) for h in site.role("file_server")]
    spns += [("ldap", fqdn(site, h)) for h in site.role("dc")]
    spns += [("TERMSRV", fqdn(site, h)) for h in site.role("rds")]
    spns += [("HTTP", fqdn(site, h)) for h in site.role("dpi")]
    spns.append(("krbtgt", site.realm))
    for t in w.times(w.count(1.0 * len(ws), t0, t1), t0, t1):
        pc, sname = rng.choice(ws), rng.choice(spns)
        req = kerberos.tgs_req(rng, realm=site.realm, sname=sname)
        rep = kerberos.tgs_rep(rng, user=rng.choice(site.users), realm=site.realm, sname=sname)
        conv = kerberos.exchange(req, rep)
        w.trace.tcp(t, pc, w.ports.take(pc), rng.choice(site.role("dc")), 88, conv)


def gpo_background(w: World, t0: float, t1: float) -> None:
    """Group Policy background refresh of every Windows computer (workstations, remote
    desktop and file servers), every 105 minutes on average, day and night: gpt.ini of
    each GPO read from a DC's SYSVOL as the computer account."""
    site, rng = w.site, w.rng
    machines = [*site.role("workstation"), *site.role("rds"), *site.role("file_server")]
    for t in w.times(w.count(len(machines) / 1.75, t0, t1, rhythm=False), t0, t1):
        pc, dc = rng.choice(machines), rng.choice(site.role("dc"))
        s = smb(w, pc, dc, f"{pc.name}$", t, signing_required=True)
        s.session_setup_kerberos()
        windows.gpo_refresh(s, dc=dc.name, gpos=GPOS, full=False)
        s.logoff()
        w.trace.tcp(t, pc, w.ports.take(pc), dc, 445, s.turns())


# -- the night backup ------------------------------------------------------------------------


def night_backup(w: World, t0: float, t1: float) -> None:
    """The backup server's visits to each file server between 01:00 and 04:00 local time
    (see the module docstring): the i-th server from 01:00 + 7 i minutes, every five
    minutes, each visit taking the next batch of its folders."""
    site = w.site
    backup = site.role("backup")
    if not backup:
        return
    day = datetime.fromtimestamp(t0, PARIS).replace(hour=0, minute=0, second=0, microsecond=0)
    for midnight in (day.timestamp(), day.timestamp() + 86400):
        for i, fs in enumerate(site.role("file_server")):
            slots = list(range(_BACKUP_FROM + 7 * i, _BACKUP_TO, _BACKUP_EVERY))
            todo = folders(site, fs)
            per = -(-len(todo) // len(slots))
            for k, minute in enumerate(slots):
                at = midnight + minute * 60 + (i * 31 + k * 17) % 40
                if t0 <= at < t1 and todo[k * per : (k + 1) * per]:
                    backup_visit(w, at, backup[0], fs, todo[k * per : (k + 1) * per])


def backup_visit(w: World, t: float, backup: Host, fs: Host, batch: list[tuple[str, str]]) -> None:
    """One backup connection: NTLM logon as the backup account, each (share, folder) of
    `batch` listed and its changed files read whole, in order."""
    rng = w.rng
    s = smb(w, backup, fs, w.site.accounts.get("backup", "svc-backup"), t)
    s.session_setup()
    trees: dict[str, Smb2Tree | None] = {}
    for share, folder in batch:
        if share not in trees:
            trees[share] = s.tree_connect(f"\\\\{fs.name}\\{share}")
        tree = trees[share]
        if tree is None:
            continue
        s.list_dir(tree, folder, listing(share, folder))
        for name, size in files(share, folder):
            if rng.random() < _CHANGED:
                s.pause(rng.uniform(0.001, 0.01))
                f = s.create(tree, f"{folder}\\{name}", size=size)
                if f is not None:
                    s.read(f, size)
                    s.close(f)
    _close(s, list(trees.values()), rng.uniform(1.0, 5.0))
    w.trace.tcp(t, backup, w.ports.take(backup), fs, 445, s.turns())


ACTIVITIES = (logons, documents, tickets, gpo_background, night_backup)
