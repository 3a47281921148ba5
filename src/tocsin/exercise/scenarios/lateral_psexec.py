"""Lateral movement with an administrator's stolen credentials: PsExec from a compromised
workstation to servers and workstations, then a remote scheduled task on a domain controller.

What the Corbeil-Essonnes intruders did between access and encryption, with the tools every
ransomware crew uses: Sysinternals PsExec by address (NTLM, the domain admin account whose
password was dumped on the first host) copies PSEXESVC.exe to each target's ADMIN$, creates
and starts the service over \\PIPE\\svcctl, runs a command, and removes both; Impacket's
atexec registers a task over \\PIPE\\atsvc on a DC, runs it, reads its output from
ADMIN$\\Temp and deletes it. The workstation never did any of this before.

`spread` and `schedule_task` are the steps, each callable alone (a campaign chains them):
they write the traffic from `t`, record their steps under `prefix` and return their end.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass

from tocsin.exercise.proto import dcerpc, windows
from tocsin.exercise.proto.smb2 import Smb2Session
from tocsin.exercise.wire.hosts import Host
from tocsin.exercise.world import World

_COMMANDS = (
    "cmd.exe",
    "whoami /all",
    "ipconfig /all",
    'net group "Admins du domaine" /domain',
    "powershell.exe -nop -w hidden -ep bypass",
    "vssadmin list shadows",
)


def _session(w: World, source: Host, target: Host, user: str, t: float) -> Smb2Session:
    """The attacker's SMB session to `target` by address (NTLM as `user`), logged on."""
    s = Smb2Session(w.rng, client=source.name, server=target.name, user=user,
                    domain=w.site.netbios, dns_domain=w.site.domain, target=target.ip,
                    now=t)  # fmt: skip
    s.negotiate()
    s.session_setup()
    return s


def _admin(w: World) -> str:
    return w.site.accounts.get("admin", "administrateur")


def spread(
    w: World,
    t: float,
    source: Host,
    targets: Sequence[Host],
    *,
    prefix: str = "lateral_psexec",
    user: str | None = None,
) -> float:
    """PsExec from `source` to each of `targets` in turn (20-90 s apart, as an operator
    types), as `user` (the site's admin account by default). Records `<prefix>.admin_share`
    and `<prefix>.service_exec`; returns the end of the last session."""
    rng, user = w.rng, user or _admin(w)
    start = end = t
    for target in targets:
        s = _session(w, source, target, user, t)
        windows.psexec(s, target=target.ip, command=rng.choice(_COMMANDS))
        s.logoff()
        end = w.trace.tcp(t, source, w.ports.take(source), target, 445, s.turns())
        t = end + rng.uniform(20.0, 90.0)
    names = ", ".join(h.ip for h in targets)
    w.step(
        f"{prefix}.admin_share", "PSEXESVC.exe copied to the targets' ADMIN$ share", start, end,
        [source], targets, "T1021.002", "TA0008", ["behaviour.smb_admin_share"],
        f"{source.ip} mounts ADMIN$ on {names} and writes PSEXESVC.exe there, with the "
        f"account {user} over NTLM.",
    )  # fmt: skip
    w.step(
        f"{prefix}.service_exec", "PsExec service created and started over svcctl", start, end,
        [source], targets, "T1569.002", "TA0002", ["behaviour.remote_service"],
        f"{source.ip} creates and starts the PSEXESVC service on {names} through "
        r"\PIPE\svcctl, then stops and deletes it.",
    )  # fmt: skip
    return end


def schedule_task(
    w: World,
    t: float,
    source: Host,
    target: Host,
    *,
    prefix: str = "lateral_psexec",
    user: str | None = None,
) -> float:
    """Impacket atexec from `source` on `target`: a task registered and run over atsvc, its
    output read from ADMIN$\\Temp and deleted. Records `<prefix>.remote_task`."""
    rng, user = w.rng, user or _admin(w)
    name = "".join(rng.choice(string.ascii_letters) for _ in range(8))
    out = f"Temp\\{name}.tmp"
    s = _session(w, source, target, user, t)
    ipc = s.tree_connect(f"\\\\{target.ip}\\IPC$")
    if ipc is None:
        return t
    dcerpc.remote_task(s, ipc, rng, name=name, command="cmd.exe",
                       arguments=f"/C nltest /dclist: > %windir%\\{out} 2>&1")  # fmt: skip
    admin = s.tree_connect(f"\\\\{target.ip}\\ADMIN$")
    if admin is not None:
        size = rng.randrange(300, 1500)
        f = s.create(admin, out, size=size)
        if f is not None:
            s.read(f, size)
            s.close(f)
        gone = s.create(admin, out, delete_on_close=True, size=size)
        if gone is not None:
            s.close(gone)
        s.tree_disconnect(admin)
    s.tree_disconnect(ipc)
    s.logoff()
    end = w.trace.tcp(t, source, w.ports.take(source), target, 445, s.turns())
    w.step(
        f"{prefix}.remote_task", "Remote scheduled task (atexec) on a domain controller", t, end,
        [source], [target], "T1053.005", "TA0002", ["behaviour.remote_task"],
        f"{source.ip} registers, runs and deletes the task \\{name} on {target.ip} through "
        r"\PIPE\atsvc, then reads its output from ADMIN$\Temp.",
    )  # fmt: skip
    return end


@dataclass(frozen=True, slots=True)
class LateralPsexec:
    name: str = "lateral_psexec"
    summary: str = (
        "A compromised workstation uses a stolen domain admin account: PsExec to the file "
        "servers, the remote desktop server and workstations, then a remote scheduled task "
        "on a domain controller."
    )
    duration_s: float = 900.0

    def inject(self, w: World, t: float) -> float:
        site, rng = w.site, w.rng
        pcs = site.staff_workstations()
        source = rng.choice(pcs)
        others = [h for h in pcs if h is not source]
        targets = [*site.role("file_server"), *site.role("rds"), *rng.sample(others, 3)]
        end = spread(w, t, source, targets, prefix=self.name)
        return schedule_task(w, end + rng.uniform(30.0, 120.0), source, site.one("dc"),
                             prefix=self.name)  # fmt: skip


SCENARIO = LateralPsexec()
