"""The Corbeil-Essonnes pattern, end to end: access, discovery, spread, encrypt.

In August 2022 the Centre Hospitalier Sud Francilien lost its information system to LockBit
3.0: an intrusion, then days of quiet reconnaissance and spreading with administrator
credentials, then the encryption of its servers and shares in one night, and the theft of
data. This campaign compresses that into about 80 minutes of one site's traffic, from one
workstation:

1. access — a phishing document, then an implant beaconing over HTTPS (`c2_beacon.phish`);
2. discovery — ping sweep, SMB sweep and SYN scan of the servers (`recon.discover`);
3. spread — PsExec with a stolen domain admin account to the file servers, the remote
   desktop server and two workstations, and a remote scheduled task on the domain
   controller (`lateral_psexec.spread`, `schedule_task`);
4. encrypt — the file server's shares rewritten and renamed, a ransom note per folder
   (`ransomware.encrypt`).

Every step is recorded under `campaign.<step>` with the detector a defender relies on.
"""

from __future__ import annotations

from dataclasses import dataclass

from tocsin.exercise.scenarios.c2_beacon import phish
from tocsin.exercise.scenarios.lateral_psexec import schedule_task, spread
from tocsin.exercise.scenarios.ransomware import encrypt
from tocsin.exercise.scenarios.recon import discover
from tocsin.exercise.world import World

_BEACON_S = 1500.0  # the implant's check-ins before the operator acts


@dataclass(frozen=True, slots=True)
class Campaign:
    name: str = "campaign"
    summary: str = (
        "Corbeil-Essonnes pattern from one workstation: phishing and HTTPS C2, scans, PsExec "
        "and a remote task with a stolen admin account, then SMB shares encrypted."
    )
    duration_s: float = 5400.0

    def inject(self, w: World, t: float) -> float:
        site, rng = w.site, w.rng
        pcs = site.staff_workstations()
        victim = rng.choice(pcs[10:])
        p = self.name
        # the implant keeps beaconing while the operator works through it
        phish(w, t, victim, _BEACON_S + 2400.0, prefix=p)
        t = discover(w, t + _BEACON_S, victim, prefix=p) + rng.uniform(300, 600)
        others = [h for h in pcs if h is not victim]
        targets = [*site.role("file_server"), *site.role("rds"), *rng.sample(others, 2)]
        t = spread(w, t, victim, targets, prefix=p) + rng.uniform(60, 180)
        t = schedule_task(w, t, victim, site.one("dc"), prefix=p) + rng.uniform(300, 600)
        server = site.one("file_server")
        return encrypt(w, t, victim, server, site.shares[server], prefix=p)


SCENARIO = Campaign()
