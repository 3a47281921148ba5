"""A new AE title or host talking DICOM to an archive (`medical.dicom_new_peer`).

Reads `dicom` association events. A DICOM *server* (PACS, archive, workstation receiving
images) is a host that accepts associations. Per server the detector learns the calling AE
titles and the client hosts that reach it, during a learning period of `learn_s` seconds of
packet time (default one day from the first DICOM event: a short capture is all learning and
never alerts; set `learn_s` to the capture's warm-up to test). After it, an association from a
calling AE or a host the server has not seen is reported (sid 8_000_430), once per
(server, AE, host), accepted or not: a rejected association from an unknown AE is how AE
titles are guessed. A known AE from a new host is also reported (an AE title is a name, not
an authentication: a copied one is a spoofed modality). The new peer is then learned, unless
the association was rejected (it stays new and may alert again after the re-alert window).

Evidence: server host and port, called and calling AE titles, which of them is new
("calling_ae", "host"), association status, reject reason, how many AEs / hosts the server
knows, the learning start. Baselines live in one `BoundedMap` of `max_peers` entries.

Near misses it ignores: known modalities storing to the PACS, any peer during learning, a
server first seen after learning (its first client becomes its baseline), a peer that only
reaches servers it already knows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tocsin.detect.correlate.plugin import Context, Detector, DetectorInfo, Finding, event_us
from tocsin.detect.medical._learn import DAY_S, LearningClock, PeerBaseline
from tocsin.model.dicom import DicomEvent

SID_NEW_PEER = 8_000_430


@dataclass(frozen=True, slots=True)
class DicomNewPeerConfig:
    learn_s: int = DAY_S  # learning period from the first DICOM association (packet time)
    max_peers: int = 100_000


class DicomNewPeer(Detector):
    """An AE title or host not seen with this DICOM server during learning."""

    info = DetectorInfo(
        name="medical.dicom_new_peer",
        signature_id=SID_NEW_PEER,
        signature="TOCSIN MEDICAL DICOM association from a new AE title or host",
        category="Potentially Bad Traffic",
        technique="T1021",
        tactic="TA0008",
        severity=3,
        confidence="medium",
        description="After the learning period, a calling AE title or client host never seen "
        "with this DICOM server opens an association to it.",
    )
    subscribes = frozenset({"dicom"})
    Config = DicomNewPeerConfig

    def __init__(self, config: DicomNewPeerConfig | None = None) -> None:
        super().__init__(config or DicomNewPeerConfig())
        self.cfg: DicomNewPeerConfig = self.config
        self.clock = LearningClock(self.cfg.learn_s)
        self.base = PeerBaseline(self.cfg.max_peers)

    def on_event(self, ev: DicomEvent, ctx: Context) -> None:
        d = ev.dicom
        a = d.association
        if d.type != "association" or a is None:
            return
        ts = event_us(ev, ctx.now_us)
        learning = self.clock.learning(ts)
        server = ev.dest_ip
        peer = {"calling_ae": d.calling_ae or "-", "host": ev.src_ip}
        accepted = a.status == "accepted"
        if learning:
            if accepted:
                self.base.learn(server, peer, ts)
            return
        if server not in self.base.servers:
            if accepted:
                self.base.new_kinds(server, peer, ts)  # a new server: its baseline
            return
        new = self.base.new_kinds(server, peer, ts)
        if not new:
            return
        evidence: dict[str, Any] = {
            "server": server,
            "server_port": ev.dest_port,
            "called_ae": d.called_ae,
            "calling_ae": d.calling_ae,
            "client": ev.src_ip,
            "new": new,
            "status": a.status,
            "known_calling_aes": self.base.peers_of(server, "calling_ae"),
            "known_hosts": self.base.peers_of(server, "host"),
            "learning_since": self.clock.since(),
            "threshold": f"peer not seen during the {self.cfg.learn_s} s learning period",
        }
        if a.rejected is not None:
            evidence["reject_reason"] = a.rejected.reason
        if accepted:
            self.base.learn(server, peer, ts)
        ctx.emit(
            Finding.from_event(
                ev,
                key=f"{server}:{d.calling_ae}@{ev.src_ip}",
                ts_us=ts,
                evidence=evidence,
                proto="TCP",
                app_proto="dicom",
            )
        )

    def counters(self) -> dict[str, int]:
        return self.base.counters()


DETECTORS = (DicomNewPeer,)
