"""HL7 v2 feeds: new senders to an interface engine, runs of negative acknowledgements.

Reads `hl7` events (one per message with its acknowledgement; MSH header fields, MSA code,
never a PID/OBX value).

`medical.hl7_new_sender` (sid 8_000_440): an interface engine (a host that receives HL7) learns
the sending application (MSH-3), sending facility (MSH-4) and host of each feed during
`learn_s` seconds of packet time (default one day from the first HL7 event: a short capture
is all learning and never alerts). After it, a message from an application/facility pair or
a host the engine has not seen is reported once per (engine, application, facility, host),
then learned: a rogue system injecting orders or results, or a spoofed MSH-3 from a new
host. An engine first seen after learning takes its first sender as baseline. Evidence:
engine host and port, MSH-3/4/5/6, message type, which part is new, counts known.

`medical.hl7_nack_run` (sid 8_000_450): on one feed (sender host -> engine host:port), a
run of negative acknowledgements (MSA-1 AE, AR, CE, CR): `min_consecutive` (5) in a row
with no positive ACK (AA/CA) between, or `min_in_window` (10) within `window_s` (600 s).
Rejected messages are lost clinical data (admissions, orders, results), and a burst of them
is what malformed or injected messages look like. Evidence: ACK codes and message types
with counts, messages seen, ERR segments, first/last seen, the threshold crossed.

Near misses they ignore: a known feed, one or two NACKs among accepted messages (the demo's
sample has an AE and an AR), unacknowledged messages (no code), unsolicited ACKs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

from tocsin.detect.correlate.plugin import Context, Detector, DetectorInfo, Finding, event_us
from tocsin.detect.correlate.state import BoundedMap
from tocsin.detect.medical._learn import DAY_S, LearningClock, PeerBaseline
from tocsin.model.hl7 import HL7Event
from tocsin.output.timefmt import eve_timestamp

SID_NEW_SENDER = 8_000_440
SID_NACK_RUN = 8_000_450

NACK_CODES = frozenset({"AE", "AR", "CE", "CR"})
ACK_CODES = frozenset({"AA", "CA"})


def message_kind(ev: HL7Event) -> str:
    h = ev.hl7
    if h.message_type and h.trigger_event:
        return f"{h.message_type}^{h.trigger_event}"
    return h.message_type or "-"


@dataclass(frozen=True, slots=True)
class Hl7NewSenderConfig:
    learn_s: int = DAY_S  # learning period from the first HL7 message (packet time)
    max_peers: int = 100_000


class Hl7NewSender(Detector):
    """HL7 from a sending application/facility or host the interface engine never saw."""

    info = DetectorInfo(
        name="medical.hl7_new_sender",
        signature_id=SID_NEW_SENDER,
        signature="TOCSIN MEDICAL HL7 message from a new sending application or host",
        category="Potentially Bad Traffic",
        technique="T1565.002",
        tactic="TA0040",
        severity=2,
        confidence="medium",
        description="After the learning period, an HL7 sender (MSH-3/MSH-4) or host never seen "
        "by this interface engine sends it messages.",
    )
    subscribes = frozenset({"hl7"})
    Config = Hl7NewSenderConfig

    def __init__(self, config: Hl7NewSenderConfig | None = None) -> None:
        super().__init__(config or Hl7NewSenderConfig())
        self.cfg: Hl7NewSenderConfig = self.config
        self.clock = LearningClock(self.cfg.learn_s)
        self.base = PeerBaseline(self.cfg.max_peers)

    def on_event(self, ev: HL7Event, ctx: Context) -> None:
        h = ev.hl7
        if h.unsolicited_ack:
            return
        ts = event_us(ev, ctx.now_us)
        engine = ev.dest_ip
        sender = f"{h.sending_application or '-'}|{h.sending_facility or '-'}"
        peer = {"sender": sender, "host": ev.src_ip}
        if self.clock.learning(ts):
            self.base.learn(engine, peer, ts)
            return
        new = self.base.new_kinds(engine, peer, ts)
        if not new:
            return
        evidence: dict[str, Any] = {
            "engine": engine,
            "engine_port": ev.dest_port,
            "sender_host": ev.src_ip,
            "sending_application": h.sending_application,
            "sending_facility": h.sending_facility,
            "receiving_application": h.receiving_application,
            "receiving_facility": h.receiving_facility,
            "message_type": message_kind(ev),
            "malformed_header": h.malformed_header,
            "new": new,
            "known_senders": self.base.peers_of(engine, "sender"),
            "known_hosts": self.base.peers_of(engine, "host"),
            "learning_since": self.clock.since(),
            "threshold": f"sender not seen during the {self.cfg.learn_s} s learning period",
        }
        self.base.learn(engine, peer, ts)
        ctx.emit(
            Finding.from_event(
                ev,
                key=f"{engine}:{sender}@{ev.src_ip}",
                ts_us=ts,
                evidence=evidence,
                proto="TCP",
                app_proto="hl7",
            )
        )

    def counters(self) -> dict[str, int]:
        return self.base.counters()


@dataclass(frozen=True, slots=True)
class Hl7NackRunConfig:
    min_consecutive: int = 5  # NACKs in a row on one feed ...
    min_in_window: int = 10  # ... or NACKs on one feed ...
    window_s: int = 600  # ... within this window
    max_feeds: int = 20_000


@dataclass(slots=True)
class _Feed:
    first_ts: int
    last_ts: int
    messages: int = 0
    nacks: int = 0
    consecutive: int = 0
    longest: int = 0
    err_segments: int = 0
    codes: dict[str, int] = field(default_factory=dict)
    types: dict[str, int] = field(default_factory=dict)
    senders: set[str] = field(default_factory=set)
    alerted: bool = False


class Hl7NackRun(Detector):
    """A run of rejected HL7 messages (AE/AR/CE/CR) on one feed."""

    info = DetectorInfo(
        name="medical.hl7_nack_run",
        signature_id=SID_NACK_RUN,
        signature="TOCSIN MEDICAL HL7 run of negative acknowledgements on a feed",
        category="Potentially Bad Traffic",
        technique="T1565.002",
        tactic="TA0040",
        severity=2,
        confidence="medium",
        description="Many HL7 messages of one feed rejected (MSA-1 AE/AR/CE/CR), in a row or "
        "within a window: lost clinical messages, or malformed / injected ones.",
    )
    subscribes = frozenset({"hl7"})
    Config = Hl7NackRunConfig

    def __init__(self, config: Hl7NackRunConfig | None = None) -> None:
        super().__init__(config or Hl7NackRunConfig())
        self.cfg: Hl7NackRunConfig = self.config
        self.feeds: BoundedMap[tuple[str, str, int], _Feed] = BoundedMap(self.cfg.max_feeds)

    def on_event(self, ev: HL7Event, ctx: Context) -> None:
        h = ev.hl7
        if h.unsolicited_ack or not h.acked or h.ack_code is None:
            return
        code = h.ack_code.upper()
        ts = event_us(ev, ctx.now_us)
        key = (ev.src_ip, ev.dest_ip, ev.dest_port or 0)
        f = self.feeds.get_or_create(key, partial(_Feed, ts, ts))
        if ts - f.first_ts > self.cfg.window_s * 1_000_000:  # a new window; a run goes on
            run = f.consecutive
            self.feeds.pop(key)
            f = self.feeds.get_or_create(key, partial(_Feed, ts, ts))
            f.consecutive = f.longest = run
        f.last_ts = max(f.last_ts, ts)
        f.messages += 1
        if code in ACK_CODES:
            f.consecutive = 0
            return
        if code not in NACK_CODES:
            return
        f.nacks += 1
        f.consecutive += 1
        f.longest = max(f.longest, f.consecutive)
        f.err_segments += int(h.ack_error_segment)
        f.codes[code] = f.codes.get(code, 0) + 1
        kind = message_kind(ev)
        if kind in f.types or len(f.types) < 20:
            f.types[kind] = f.types.get(kind, 0) + 1
        if len(f.senders) < 10:
            f.senders.add(f"{h.sending_application or '-'}|{h.sending_facility or '-'}")
        run = f.consecutive >= self.cfg.min_consecutive
        if f.alerted or not (run or f.nacks >= self.cfg.min_in_window):
            return
        f.alerted = True
        evidence: dict[str, Any] = {
            "nacks": f.nacks,
            "messages": f.messages,
            "consecutive": f.longest,
            "ack_codes": dict(sorted(f.codes.items())),
            "message_types": dict(sorted(f.types.items())),
            "senders": sorted(f.senders),
            "error_segments": f.err_segments,
            "first_seen": eve_timestamp(f.first_ts),
            "last_seen": eve_timestamp(f.last_ts),
            "threshold": f"{self.cfg.min_consecutive} NACKs in a row"
            if run
            else f"{self.cfg.min_in_window} NACKs in {self.cfg.window_s} s",
        }
        ctx.emit(
            Finding.from_event(
                ev,
                key=f"{ev.src_ip}>{ev.dest_ip}:{ev.dest_port}",
                ts_us=ts,
                evidence=evidence,
                proto="TCP",
                app_proto="hl7",
            )
        )

    def counters(self) -> dict[str, int]:
        return {"evicted": self.feeds.evicted, "tracked": len(self.feeds)}


DETECTORS = (Hl7NewSender, Hl7NackRun)
