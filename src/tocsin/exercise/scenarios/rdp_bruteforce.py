"""Password guessing on the remote-desktop server the site exposes to the internet.

The remote-desktop server (`rds`, RDP on TCP 3389 forwarded from the site's public address
so that doctors on call can work from home) is found by an internet-wide scan; a password
guesser (hydra, crowbar) then tries it from one address:

1. `guess`: four threads hammer the administrator accounts (`administrateur`,
   `administrator`, `admin`) with a word list, a new connection every half second or so;
   each one is an NLA login refused with STATUS_LOGON_FAILURE (`proto.rdp`: about a second,
   a few kilobytes from the server), its `mstshash` cookie naming the account;
2. `spray`: a few minutes later, two seasonal passwords against the staff's own accounts
   (`site.users`, first.last as the site names them), one try per account and password,
   slowly, to stay under lockout thresholds.

Nothing gets in: the truth records the attempts, which the defender must see before one
succeeds.
"""

from __future__ import annotations

from dataclasses import dataclass

from tocsin.exercise.proto import rdp
from tocsin.exercise.world import World

ATTACKER_IP = "203.0.113.66"
_ADMINS = ("administrateur", "administrator", "admin")
_GUESSES = 60
_THREADS = 4
_SPRAY_USERS = 20
_SPRAY_ROUNDS = 2
_RTT_S = 0.045  # a host abroad


@dataclass(frozen=True, slots=True)
class RdpBruteForce:
    name: str = "rdp_bruteforce"
    summary: str = (
        "An internet address guesses the administrator passwords of the exposed "
        "remote-desktop server, then sprays two passwords over the staff's accounts."
    )
    duration_s: float = 1200.0

    def inject(self, w: World, t: float) -> float:
        site, tr, rng = w.site, w.trace, w.rng
        attacker = site.external("rdp-guesser", ATTACKER_IP)
        target = site.one("rds") if site.role("rds") else site.one("file_server")
        fqdn = f"{target.name.lower()}.{site.domain}"
        # 1. brute force of the administrator accounts, four connections in flight
        t0, end = t, t
        threads = [t + rng.uniform(0.0, 0.3) for _ in range(_THREADS)]
        for i in range(_GUESSES):
            k = i % _THREADS
            turns = rdp.session(rng, _ADMINS[i % len(_ADMINS)], False, server_name=fqdn)
            port = w.ports.take(attacker)
            done = tr.tcp(threads[k], attacker, port, target, 3389, turns, rtt_s=_RTT_S)
            threads[k] = done + rng.uniform(0.2, 1.0)
            end = max(end, done)
        w.step(
            "rdp_bruteforce.guess", "RDP password guessing on the administrator accounts",
            t0, end, [attacker], [target], "T1110.001", "TA0006", ["behaviour.brute_force"],
            f"{attacker.ip} opens {_GUESSES} short RDP connections to {target.ip}:3389 in "
            f"about a minute, each refused at NLA, as {', '.join(_ADMINS)}.",
        )  # fmt: skip
        # 2. password spray over the staff's accounts, one try each per round
        t = end + rng.uniform(120.0, 300.0)
        t0 = t
        users = site.users[:_SPRAY_USERS]
        for _ in range(_SPRAY_ROUNDS):
            for user in users:
                turns = rdp.session(rng, user, False, server_name=fqdn)
                port = w.ports.take(attacker)
                end = tr.tcp(t, attacker, port, target, 3389, turns, rtt_s=_RTT_S)
                t = end + rng.uniform(2.0, 6.0)
        w.step(
            "rdp_bruteforce.spray", "RDP password spray over the staff's accounts", t0, end,
            [attacker], [target], "T1110.003", "TA0006",
            ["behaviour.password_spray", "behaviour.brute_force"],
            f"{attacker.ip} fails RDP logins on {target.ip} as {len(users)} different users, "
            f"{_SPRAY_ROUNDS} tries each, a few seconds apart.",
        )  # fmt: skip
        return end


SCENARIO = RdpBruteForce()
