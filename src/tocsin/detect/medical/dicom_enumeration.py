"""Bulk enumeration of an archive's patients with C-FIND (`medical.dicom_enumeration`).

Reads `dicom` command events of Query/Retrieve C-FIND (Patient Root, Study Root,
Patient/Study Only; the Modality Worklist, which modalities poll, is not counted). The parser
gives the query level and, for each patient-level key (group 0010) of the identifier, its
keyword and whether it was universal (empty or `*`) or held a wildcard, never its value.
An *identifying* key is one of `IDENTIFYING_KEYS` (name, ID, birth date...).

- sid 8_000_410 **open patient query**: a PATIENT-level C-FIND in which no identifying key
  has a specific value (all universal, or none present): "list every patient". Key the
  (requestor host, calling AE); severity 2, high confidence.
- sid 8_000_411 **many matches**: a C-FIND at any level whose identifying keys are all
  universal or wildcarded (`DUP*` counts) that returned at least `min_matches` (100) matches
  (pending responses).
- sid 8_000_412 **query rate**: `min_finds` (200) Q/R C-FINDs from one (host, calling AE)
  within `window_s` (600 s): a script walking the archive one patient ID at a time.

Evidence: AE titles, SOP class, query level, key *names* with their universal/wildcard flags,
match counts, status, first/last seen, the threshold crossed. Never a value.

Near misses it ignores: a PATIENT query with a specific PatientID (a viewer opening one
patient), a STUDY query with `PatientName=*` returning a few studies (a viewer's day list),
worklist queries, a query whose identifier was truncated (keys unknown) unless it crossed
the match threshold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

from tocsin.detect.correlate.plugin import Context, Detector, DetectorInfo, Finding, event_us
from tocsin.detect.correlate.state import BoundedMap
from tocsin.model.dicom import DicomCommand, DicomEvent
from tocsin.output.timefmt import eve_timestamp

SID_OPEN = 8_000_410
SID_MATCHES = 8_000_411
SID_RATE = 8_000_412

QR_FIND_PREFIX = "1.2.840.10008.5.1.4.1.2."  # Q/R information models (.1.1, .2.1, .3.1: FIND)
IDENTIFYING_KEYS = frozenset(
    {
        "PatientName",
        "PatientID",
        "PatientBirthDate",
        "OtherPatientIDs",
        "OtherPatientIDsSequence",
        "OtherPatientNames",
        "PatientBirthName",
        "PatientMotherBirthName",
        "PatientAddress",
        "PatientTelephoneNumbers",
    }
)


def is_qr_find(cmd: DicomCommand) -> bool:
    if cmd.command != "C-FIND" or cmd.issuer != "requestor":
        return False
    uid = cmd.sop_class.uid if cmd.sop_class else ""
    return uid.startswith(QR_FIND_PREFIX) or (not uid and cmd.query_level is not None)


def patient_constraint(cmd: DicomCommand) -> str:
    """How the identifier constrains the patient: "none" (identifying keys absent or all
    universal), "wildcard" (some wildcarded, none specific), "specific"."""
    ident = [k for k in cmd.query_keys if k.keyword in IDENTIFYING_KEYS]
    if any(not k.universal and not k.wildcard for k in ident):
        return "specific"
    if any(k.wildcard and not k.universal for k in ident):
        return "wildcard"
    return "none"


def keys_evidence(cmd: DicomCommand) -> list[dict[str, Any]]:
    return [
        {"keyword": k.keyword, "universal": k.universal, "wildcard": k.wildcard}
        for k in cmd.query_keys
    ]


@dataclass(frozen=True, slots=True)
class DicomEnumerationConfig:
    min_matches: int = 100  # matches of one unconstrained query
    min_finds: int = 200  # Q/R C-FINDs from one (host, AE) ...
    window_s: int = 600  # ... within this window
    max_requestors: int = 20_000


@dataclass(slots=True)
class _Rate:
    first_ts: int
    last_ts: int
    finds: int = 0
    matches: int = 0
    levels: dict[str, int] = field(default_factory=dict)
    called: set[str] = field(default_factory=set)
    alerted: bool = False


class DicomEnumeration(Detector):
    """C-FIND queries that list an archive's patients, one by one or all at once."""

    info = DetectorInfo(
        name="medical.dicom_enumeration",
        signature_id=SID_OPEN,
        signature="TOCSIN MEDICAL DICOM C-FIND lists every patient (no identifying key)",
        category="Attempted Information Leak",
        technique="T1213",
        tactic="TA0009",
        severity=2,
        confidence="high",
        description="C-FIND at PATIENT level with no specific identifying key, an "
        "unconstrained query with many matches, or a high rate of C-FINDs from one AE.",
    )
    subscribes = frozenset({"dicom"})
    Config = DicomEnumerationConfig

    def __init__(self, config: DicomEnumerationConfig | None = None) -> None:
        super().__init__(config or DicomEnumerationConfig())
        self.cfg: DicomEnumerationConfig = self.config
        self.rates: BoundedMap[tuple[str, str], _Rate] = BoundedMap(self.cfg.max_requestors)

    def on_event(self, ev: DicomEvent, ctx: Context) -> None:
        cmd = ev.dicom.command
        if ev.dicom.type != "command" or cmd is None or not is_qr_find(cmd):
            return
        ts = event_us(ev, ctx.now_us)
        ae = ev.dicom.calling_ae or "-"
        constraint = "unknown" if cmd.query_truncated else patient_constraint(cmd)
        base: dict[str, Any] = {
            "calling_ae": ev.dicom.calling_ae,
            "called_ae": ev.dicom.called_ae,
            "sop_class": (cmd.sop_class.name or cmd.sop_class.uid) if cmd.sop_class else None,
            "query_level": cmd.query_level,
            "query_keys": keys_evidence(cmd),
            "patient_constraint": constraint,
            "matches": cmd.pending_responses,
            "status_category": cmd.status_category,
        }
        if cmd.query_level == "PATIENT" and constraint == "none":
            base["threshold"] = "PATIENT-level C-FIND with no specific identifying key"
            self._emit(ev, ctx, ts, f"open:{ev.src_ip}/{ae}", base, SID_OPEN, None)
        elif constraint in ("none", "wildcard", "unknown") and (
            cmd.pending_responses >= self.cfg.min_matches
        ):
            base["threshold"] = f"{self.cfg.min_matches} matches to an unconstrained C-FIND"
            text = "TOCSIN MEDICAL DICOM C-FIND returned many patients (unconstrained query)"
            self._emit(ev, ctx, ts, f"matches:{ev.src_ip}/{ae}", base, SID_MATCHES, text)
        self._count(ev, cmd, ts, ae, ctx)

    def _count(self, ev: DicomEvent, cmd: DicomCommand, ts: int, ae: str, ctx: Context) -> None:
        window = self.cfg.window_s * 1_000_000
        key = (ev.src_ip, ae)
        r = self.rates.get_or_create(key, partial(_Rate, ts, ts))
        if ts - r.first_ts > window:
            self.rates.pop(key)
            r = self.rates.get_or_create(key, partial(_Rate, ts, ts))
        r.last_ts = max(r.last_ts, ts)
        r.finds += 1
        r.matches += cmd.pending_responses
        level = cmd.query_level or "-"
        r.levels[level] = r.levels.get(level, 0) + 1
        if ev.dicom.called_ae and len(r.called) < 20:
            r.called.add(ev.dicom.called_ae)
        if not r.alerted and r.finds >= self.cfg.min_finds:
            r.alerted = True
            evidence: dict[str, Any] = {
                "calling_ae": ev.dicom.calling_ae,
                "called_aes": sorted(r.called),
                "finds": r.finds,
                "matches": r.matches,
                "query_levels": dict(sorted(r.levels.items())),
                "first_seen": eve_timestamp(r.first_ts),
                "last_seen": eve_timestamp(r.last_ts),
                "threshold": f"{self.cfg.min_finds} C-FINDs in {self.cfg.window_s} s",
            }
            text = "TOCSIN MEDICAL DICOM high rate of C-FIND queries from one AE"
            self._emit(ev, ctx, ts, f"rate:{ev.src_ip}/{ae}", evidence, SID_RATE, text)

    def _emit(
        self,
        ev: DicomEvent,
        ctx: Context,
        ts: int,
        key: str,
        evidence: dict[str, Any],
        sid: int,
        text: str | None,
    ) -> None:
        ctx.emit(
            Finding.from_event(
                ev,
                key=key,
                ts_us=ts,
                evidence=evidence,
                proto="TCP",
                app_proto="dicom",
                signature=text,
                signature_id=sid,
                confidence="medium" if sid != SID_OPEN else None,
            )
        )

    def counters(self) -> dict[str, int]:
        return {"evicted": self.rates.evicted, "tracked": len(self.rates)}


DETECTORS = (DicomEnumeration,)
