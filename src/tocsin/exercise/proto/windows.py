"""Windows domain workloads built from `smb2`, `dcerpc` and `kerberos`: what the background
and the attack scenarios of a hospital site replay.

Each function works on an `Smb2Session` the caller created (and so knows the client, server
and account), or returns whole conversations (`list[list[Turn]]`, one per TCP connection to
port 445) when a workload opens several connections:

- `read_documents`: a user opening documents on a file share (CREATE, READs, CLOSE);
- `edit_document`: a user editing a document with Office: the owner file `~$name`, then a
  save through a temporary file and two renames, as Word and Excel save on a share;
- `gpo_refresh`: a workstation reading its Group Policy from the DC's SYSVOL;
- `encrypt_files`: ransomware on a share: each file opened read/write/delete, read,
  overwritten, renamed with the ransomware's extension, closed; a ransom note in each folder;
- `psexec`: PsExec by address (NTLM): PSEXESVC.exe copied to ADMIN$, the service created and
  started over svcctl, the PSEXESVC pipes opened, then the service and the file removed;
- `smb_password_guessing`: many NTLM logons answered STATUS_LOGON_FAILURE (brute force on
  one account, or spraying over many).

Deterministic for the `random.Random` given; no I/O. File names and contents are synthetic.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from tocsin.exercise.proto import dcerpc
from tocsin.exercise.proto import smb2msg as m
from tocsin.exercise.proto.smb2 import Smb2Session, Smb2Tree
from tocsin.exercise.wire.turns import Turn

LOCKBIT_NOTE = (
    "~~~ LockBit 3.0 the world's fastest ransomware ~~~\r\n"
    ">>>> Your data is stolen and encrypted.\r\n"
    ">>>> Your personal DECRYPTION ID: {id}\r\n"
    "Tor browser links: http://lockbitapt2yfbt7lchxejug47kmqvqqxvvjpqkmevv4l3azl3gy6pyd.onion\r\n"
)


def read_documents(
    s: Smb2Session, tree: Smb2Tree, files: Sequence[tuple[str, int]], *, think_s: float = 2.0
) -> None:
    """Open, read whole and close each (path, size) of `files`, `think_s` apart on average."""
    rng = s.rng
    for path, size in files:
        s.pause(rng.expovariate(1.0 / think_s))
        f = s.create(tree, path, size=size)
        if f is not None:
            s.read(f, size)
            s.close(f)


def owner_file(name: str) -> str:
    """The owner ("lock") file Office creates next to a document it opens for editing:
    `~$` over the first two characters of a name of 7 characters or more before its
    extension, in front of a shorter one (`~$otocole.docx`, `~$CR.docx`)."""
    stem = name.rpartition(".")[0] or name
    return "~$" + (name[2:] if len(stem) >= 7 else name)


def edit_document(
    s: Smb2Session,
    tree: Smb2Tree,
    path: str,
    size: int,
    *,
    new_size: int,
    edit_s: float,
    excel: bool = False,
) -> None:
    """Office editing `path` (`size` bytes) on a share: the document opened read/write and
    read, its owner file written (the user's name, 162 bytes), `edit_s` of editing, then the
    save: the new content (`new_size` bytes) written to a temporary file (`~WRDnnnn.tmp`;
    Excel: eight hex digits), the original renamed to a second one (`~WRLnnnn.tmp`; Excel:
    hex digits `.tmp`), the first renamed to `path`, the original's copy deleted; finally
    the owner file deleted."""
    rng = s.rng
    folder, _, name = path.rpartition("\\")
    at = folder + "\\" if folder else ""
    doc = s.create(tree, path, size=size, access=m.RW_ACCESS)
    if doc is None:
        return
    s.read(doc, size)
    s.close(doc)
    user = s.user[:53].encode("latin-1", "replace")
    owner = at + owner_file(name)
    f = s.create(tree, owner, disposition=m.FILE_OVERWRITE_IF)
    if f is not None:
        s.write(f, data=(bytes([len(user)]) + user.ljust(53) + s.user.encode("utf-16-le"))
                .ljust(162, b"\x00")[:162])  # fmt: skip
        s.close(f)
    s.pause(edit_s)
    if excel:
        tmp, old = f"{rng.getrandbits(32):08X}", f"{rng.getrandbits(32):08X}.tmp"
    else:
        tmp, old = f"~WRD{rng.randrange(10_000):04d}.tmp", f"~WRL{rng.randrange(10_000):04d}.tmp"
    f = s.create(tree, at + tmp, disposition=m.FILE_CREATE)
    if f is not None:
        s.write(f, new_size)
        s.close(f)
    for src, dst in ((path, at + old), (at + tmp, path)):
        f = s.create(tree, src, size=size, access=m.RW_ACCESS | m.DELETE_ACCESS)
        if f is not None:
            s.rename(f, dst)
            s.close(f)
    for gone in (at + old, owner):
        f = s.create(tree, gone, delete_on_close=True, size=size if gone != owner else 162)
        if f is not None:
            s.close(f)


def gpo_refresh(s: Smb2Session, *, dc: str, gpos: Sequence[str], full: bool = True) -> None:
    """Group Policy processing: TREE_CONNECT to \\\\dc\\SYSVOL, then per GPO (a `{GUID}`) its
    gpt.ini and, when `full` (at logon, or a GPO changed), the machine's Registry.pol read,
    and the tree disconnected (a background refresh of unchanged GPOs reads gpt.ini only).
    The session must be authenticated (Kerberos, as a domain member does)."""
    rng = s.rng
    tree = s.tree_connect(f"\\\\{dc}\\SYSVOL")
    if tree is None:
        return
    base = f"{s.dns_domain}\\Policies"
    for guid in gpos:
        files = [("gpt.ini", rng.randrange(22, 60))]
        if full:
            files.append(("Machine\\Registry.pol", rng.randrange(300, 9000)))
        for name, size in files:
            f = s.create(tree, f"{base}\\{guid}\\{name}", size=size)
            if f is not None:
                s.read(f, size)
                s.close(f)
    s.tree_disconnect(tree)


def encrypt_files(
    s: Smb2Session,
    tree: Smb2Tree,
    files: Sequence[tuple[str, int]],
    *,
    ext: str = ".lockbit",
    note_name: str = "Restore-My-Files.txt",
    note_text: str = LOCKBIT_NOTE,
    pace_s: float = 0.02,
    part: int | None = None,
) -> None:
    """Ransomware on a share: each (path, size) opened with read, write and DELETE access,
    read, overwritten in place with as many (random) bytes, renamed to `path + ext` and
    closed; the first time a folder is seen, `note_name` is written in it. `part`:
    intermittent encryption, as LockBit 3.0 does for speed: only the first `part` bytes are
    read and overwritten, and a 512-byte trailer (the encrypted file key) is appended."""
    rng = s.rng
    seen: set[str] = set()
    text = note_text.format(id=rng.randbytes(8).hex().upper()).encode("utf-8")
    for path, size in files:
        folder = path.rpartition("\\")[0]
        if folder not in seen:
            seen.add(folder)
            note = f"{folder}\\{note_name}" if folder else note_name
            f = s.create(tree, note, disposition=m.FILE_OVERWRITE_IF)
            if f is not None:
                s.write(f, data=text)
                s.close(f)
        s.pause(rng.uniform(0.5, 1.5) * pace_s)
        f = s.create(tree, path, size=size, access=m.RW_ACCESS | m.DELETE_ACCESS)
        if f is None:
            continue
        head = size if part is None else min(size, part)
        s.read(f, head)
        s.write(f, head)
        if part is not None:
            s.write(f, offset=size, data=m.filler(rng, 512))
        s.rename(f, path + ext)
        s.close(f)


def psexec(
    s: Smb2Session,
    *,
    target: str,
    command: str = "cmd.exe",
    service: str = "PSEXESVC",
    exe_size: int = 383_288,
) -> None:
    """PsExec against `target` (as addressed: an IP or a name) on an authenticated session:
    ADMIN$ gets PSEXESVC.exe, svcctl creates and starts the service, the client opens the
    PSEXESVC control pipe and the command's stdin/stdout/stderr pipes and exchanges a few
    messages, then svcctl stops and deletes the service and the file is deleted."""
    rng = s.rng
    admin = s.tree_connect(f"\\\\{target}\\ADMIN$")
    ipc = s.tree_connect(f"\\\\{target}\\IPC$")
    if admin is None or ipc is None:
        return
    exe = s.create(admin, f"{service}.exe", disposition=m.FILE_OVERWRITE_IF)
    if exe is None:
        return
    s.write(exe, exe_size)
    s.close(exe)
    dcerpc.psexec_service(s, ipc, rng, target=target, service=service,
                          binary_path=f"%SystemRoot%\\{service}.exe")  # fmt: skip
    s.pause(rng.uniform(0.2, 0.8))
    ctl = s.create(ipc, service)
    if ctl is not None:
        s.write(ctl, data=rng.randbytes(4))
        s.write(ctl, data=command.encode("utf-16-le").ljust(19_040, b"\x00"))
        s.read(ctl, 4, data=rng.randbytes(4))
        tag = f"{service}-{s.client}-{rng.randrange(1000, 9999)}"
        pipes = [s.create(ipc, f"{tag}-{kind}") for kind in ("stdin", "stdout", "stderr")]
        out = pipes[1]
        if out is not None:
            for _ in range(rng.randrange(2, 6)):
                s.pause(rng.uniform(0.1, 1.5))
                s.read(out, 4096, data=m.filler(rng, rng.randrange(60, 1400)))
        for p in (*pipes, ctl):
            if p is not None:
                s.close(p)
    s.pause(rng.uniform(1.0, 6.0))
    dcerpc.remove_service(s, ipc, rng, target=target, service=service)
    gone = s.create(admin, f"{service}.exe", delete_on_close=True, size=exe_size)
    if gone is not None:
        s.close(gone)
    s.tree_disconnect(ipc)
    s.tree_disconnect(admin)


def smb_password_guessing(
    rng: random.Random,
    *,
    client: str,
    server: str,
    domain: str,
    users: Sequence[str],
    attempts: int,
    now: float,
    per_connection: int = 1,
    interval_s: float = 0.3,
) -> list[list[Turn]]:
    """`attempts` NTLM logons as `users` (cycled) answered STATUS_LOGON_FAILURE, as password
    guessing tools do: `per_connection` attempts on each TCP connection, which starts with
    its own NEGOTIATE. Returns one conversation per connection."""
    out: list[list[Turn]] = []
    done = 0
    while done < attempts:
        s = Smb2Session(rng, client=client, server=server, user=users[0], domain=domain, now=now)
        s.negotiate()
        for _ in range(min(per_connection, attempts - done)):
            s.session_setup(ok=False, user=users[done % len(users)])
            done += 1
            s.pause(rng.uniform(0.5, 1.5) * interval_s)
        now = s.now
        out.append(s.turns())
    return out
