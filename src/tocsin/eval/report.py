"""Scoring: alerts matched to expectations, per detector, per capture, and the totals.

`score(spec, alerts)` judges one capture: each expectation is found when at least `min_count`
alerts match it (those alerts are true positives); alerts matching an `explained` entry are
neither expected nor false positives; every other alert is extra (a false positive). An alert
matching several expectations counts for each of them (an expectation never "uses up" alerts).

`Report` adds the captures up:
- per detector (the expectation's detector label for expected/found/missed, the alert's
  detector name for true-positive and extra alerts): precision = TP alerts / (TP + extra
  alerts), recall = found / expected;
- totals: recall over every expectation of the captures that ran, false positives per capture
  on average (over all captures that ran, and over those with no labelled attack), and the
  targets (recall >= target, FP per capture <= target) as PASS/FAIL.

Renderings: `render_console` (rich tables), `to_json` (a dict), `to_markdown` (text).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table

from tocsin.eval.expectations import AlertSpec, CaptureSpec, Expectations


@dataclass(frozen=True, slots=True)
class Alert:
    """The parts of a detector alert (EVE, gid 8) that the judge reads."""

    detector: str
    src: str | None
    dest: str | None
    signature: str = ""

    @classmethod
    def from_eve(cls, ev: dict[str, Any]) -> Alert:
        a = ev.get("alert", {})
        det = (a.get("metadata", {}).get("detector") or ["?"])[0]
        src = (a.get("source") or {}).get("ip") or ev.get("src_ip")
        dest = (a.get("target") or {}).get("ip") or ev.get("dest_ip")
        return cls(str(det), src, dest, str(a.get("signature", "")))

    def describe(self) -> str:
        arrow = f" {self.src or '?'} -> {self.dest or '?'}"
        return self.detector + arrow


@dataclass(slots=True)
class CaptureResult:
    spec: CaptureSpec
    status: str = "ok"  # ok | skipped (file missing) | error (could not be read)
    message: str = ""
    alerts: list[Alert] = field(default_factory=list)
    found: list[tuple[AlertSpec, int]] = field(default_factory=list)  # (expectation, matches)
    missed: list[tuple[AlertSpec, int]] = field(default_factory=list)
    tp: list[Alert] = field(default_factory=list)
    explained: list[Alert] = field(default_factory=list)
    extra: list[Alert] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ran(self) -> bool:
        return self.status == "ok"


def score(spec: CaptureSpec, alerts: list[Alert]) -> CaptureResult:
    r = CaptureResult(spec=spec, alerts=list(alerts))
    matched: set[int] = set()
    for exp in spec.expected:
        hits = [i for i, a in enumerate(alerts) if exp.matches(a.detector, a.src, a.dest)]
        (r.found if len(hits) >= exp.min_count else r.missed).append((exp, len(hits)))
        matched.update(hits)
    for i, a in enumerate(alerts):
        if i in matched:
            r.tp.append(a)
        elif any(x.matches(a.detector, a.src, a.dest) for x in spec.explained):
            r.explained.append(a)
        else:
            r.extra.append(a)
    return r


@dataclass(slots=True)
class DetectorRow:
    name: str
    expected: int = 0
    found: int = 0
    tp_alerts: int = 0
    extra: int = 0

    @property
    def missed(self) -> int:
        return self.expected - self.found

    @property
    def precision(self) -> float | None:
        n = self.tp_alerts + self.extra
        return self.tp_alerts / n if n else None

    @property
    def recall(self) -> float | None:
        return self.found / self.expected if self.expected else None


@dataclass(slots=True)
class Report:
    expectations: Expectations
    captures: list[CaptureResult]

    @property
    def ran(self) -> list[CaptureResult]:
        return [c for c in self.captures if c.ran]

    @property
    def skipped(self) -> list[CaptureResult]:
        return [c for c in self.captures if not c.ran]

    def detectors(self) -> list[DetectorRow]:
        rows: dict[str, DetectorRow] = {}

        def row(name: str) -> DetectorRow:
            return rows.setdefault(name, DetectorRow(name))

        for c in self.ran:
            for exp, _ in c.found:
                row(exp.label).expected += 1
                row(exp.label).found += 1
            for exp, _ in c.missed:
                row(exp.label).expected += 1
            for a in c.tp:
                row(a.detector).tp_alerts += 1
            for a in c.extra:
                row(a.detector).extra += 1
        return [rows[k] for k in sorted(rows)]

    @property
    def n_expected(self) -> int:
        return sum(len(c.found) + len(c.missed) for c in self.ran)

    @property
    def n_found(self) -> int:
        return sum(len(c.found) for c in self.ran)

    @property
    def recall(self) -> float:
        return self.n_found / self.n_expected if self.n_expected else 1.0

    @property
    def n_extra(self) -> int:
        return sum(len(c.extra) for c in self.ran)

    @property
    def fp_per_capture(self) -> float:
        return self.n_extra / len(self.ran) if self.ran else 0.0

    @property
    def benign(self) -> list[CaptureResult]:
        return [c for c in self.ran if not c.spec.attack]

    @property
    def fp_per_benign_capture(self) -> float:
        b = self.benign
        return sum(len(c.extra) for c in b) / len(b) if b else 0.0

    @property
    def recall_pass(self) -> bool:
        return self.recall >= self.expectations.recall_target

    @property
    def fp_pass(self) -> bool:
        return self.fp_per_capture <= self.expectations.fp_target

    @property
    def passed(self) -> bool:
        return bool(self.ran) and self.recall_pass and self.fp_pass


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f}"


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def render_console(console: Console, rep: Report) -> None:
    t = Table(title="Detectors", title_justify="left")
    for col in ("detector", "expected", "found", "missed", "extra", "precision", "recall"):
        t.add_column(col, justify="left" if col == "detector" else "right")
    for d in rep.detectors():
        t.add_row(
            d.name,
            str(d.expected),
            str(d.found),
            str(d.missed),
            str(d.extra),
            _pct(d.precision),
            _pct(d.recall),
        )
    console.print(t)

    t = Table(title="Captures", title_justify="left")
    for col in ("capture", "attack", "expected", "found", "extra", "explained", "alerts"):
        t.add_column(
            col,
            justify="left" if col in ("capture", "attack") else "right",
            overflow="fold" if col == "capture" else "ellipsis",
        )
    for c in rep.captures:
        if not c.ran:
            t.add_row(c.spec.capture, _yn(c.spec.attack), c.status, "", "", "", "")
            continue
        t.add_row(
            c.spec.capture,
            _yn(c.spec.attack),
            str(len(c.found) + len(c.missed)),
            str(len(c.found)),
            str(len(c.extra)),
            str(len(c.explained)),
            str(len(c.alerts)),
        )
    console.print(t)
    for line in problem_lines(rep):
        console.print(line, markup=False, highlight=False, soft_wrap=True)

    n_ran, n_ben = len(rep.ran), len(rep.benign)
    console.print(
        f"Captures: {n_ran} run, {len(rep.skipped)} skipped, {n_ben} with no labelled attack.",
        markup=False,
        highlight=False,
    )
    console.print(
        f"Recall: {rep.n_found}/{rep.n_expected} = {rep.recall:.2f} "
        f"(target >= {rep.expectations.recall_target:.2f}): {_verdict(rep.recall_pass)}",
        markup=False,
        highlight=False,
    )
    console.print(
        f"False positives: {rep.n_extra} = {rep.fp_per_capture:.2f} per capture "
        f"(target <= {rep.expectations.fp_target:.2f}): {_verdict(rep.fp_pass)}; "
        f"{rep.fp_per_benign_capture:.2f} per capture with no labelled attack.",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    console.print(f"Overall: {_verdict(rep.passed)}", markup=False, highlight=False)


def _yn(b: bool) -> str:
    return "yes" if b else "no"


def problem_lines(rep: Report) -> list[str]:
    """One line per missed expectation and per distinct extra alert, by capture."""
    out = []
    for c in rep.captures:
        if not c.ran:
            out.append(f"{c.status}: {c.spec.capture}: {c.message}")
            continue
        for e, n in c.missed:
            out.append(f"missed: {c.spec.capture}: {e.describe()} ({n} matching alerts)")
        for k, n in sorted(Counter(a.describe() for a in c.extra).items()):
            out.append(f"extra:  {c.spec.capture}: {k}" + (f" (x{n})" if n > 1 else ""))
    return out


def _problems(c: CaptureResult) -> str:
    parts = [f"missed {e.describe()} ({n} seen)" for e, n in c.missed]
    extra = Counter(a.describe() for a in c.extra)
    parts += [f"extra {k}" + (f" x{n}" if n > 1 else "") for k, n in sorted(extra.items())]
    return "; ".join(parts)


def _spec_json(e: AlertSpec, n: int) -> dict[str, Any]:
    return {
        "detector": list(e.detectors),
        "src": e.src,
        "dest": e.dest,
        "host": e.host,
        "min_count": e.min_count,
        "matching_alerts": n,
        "why": e.why,
        "truth": e.truth,
    }


def _alert_json(a: Alert) -> dict[str, Any]:
    return {"detector": a.detector, "src": a.src, "dest": a.dest, "signature": a.signature}


def to_json(rep: Report) -> dict[str, Any]:
    return {
        "expectations": rep.expectations.source,
        "targets": {
            "recall": rep.expectations.recall_target,
            "fp_per_capture": rep.expectations.fp_target,
        },
        "totals": {
            "captures_run": len(rep.ran),
            "captures_skipped": len(rep.skipped),
            "captures_without_attack": len(rep.benign),
            "expected": rep.n_expected,
            "found": rep.n_found,
            "recall": rep.recall,
            "false_positives": rep.n_extra,
            "fp_per_capture": rep.fp_per_capture,
            "fp_per_capture_without_attack": rep.fp_per_benign_capture,
            "recall_pass": rep.recall_pass,
            "fp_pass": rep.fp_pass,
            "pass": rep.passed,
        },
        "detectors": [
            {
                "detector": d.name,
                "expected": d.expected,
                "found": d.found,
                "missed": d.missed,
                "true_positive_alerts": d.tp_alerts,
                "extra": d.extra,
                "precision": d.precision,
                "recall": d.recall,
            }
            for d in rep.detectors()
        ],
        "captures": [
            {
                "capture": c.spec.capture,
                "attack": c.spec.attack,
                "status": c.status,
                "message": c.message,
                "seconds": round(c.seconds, 3),
                "found": [_spec_json(e, n) for e, n in c.found],
                "missed": [_spec_json(e, n) for e, n in c.missed],
                "true_positives": [_alert_json(a) for a in c.tp],
                "explained": [_alert_json(a) for a in c.explained],
                "extra": [_alert_json(a) for a in c.extra],
                "alerts": len(c.alerts),
            }
            for c in rep.captures
        ],
    }


def _md(name: str) -> str:
    """A detector label as table code (a list's '|' escaped, or it would split the cell)."""
    return "`" + name.replace("|", "\\|") + "`"


def _md_text(text: str) -> str:
    return text.replace("|", "\\|")


def to_markdown(rep: Report) -> str:
    out = ["# Detector evaluation", "", f"Expectations: `{rep.expectations.source}`", ""]
    out += [
        "| detector | expected | found | missed | extra | precision | recall |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for d in rep.detectors():
        out.append(
            f"| {_md(d.name)} | {d.expected} | {d.found} | {d.missed} | {d.extra} | "
            f"{_pct(d.precision)} | {_pct(d.recall)} |"
        )
    out += [
        "",
        "| capture | attack | expected | found | extra | explained | missed / extra |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for c in rep.captures:
        if not c.ran:
            out.append(
                f"| `{c.spec.capture}` | {_yn(c.spec.attack)} | | | | | {c.status}: {c.message} |"
            )
            continue
        out.append(
            f"| `{c.spec.capture}` | {_yn(c.spec.attack)} | {len(c.found) + len(c.missed)} | "
            f"{len(c.found)} | {len(c.extra)} | {len(c.explained)} | {_md_text(_problems(c))} |"
        )
    out += [
        "",
        f"- Captures: {len(rep.ran)} run, {len(rep.skipped)} skipped, "
        f"{len(rep.benign)} with no labelled attack.",
        f"- Recall: {rep.n_found}/{rep.n_expected} = {rep.recall:.2f} "
        f"(target >= {rep.expectations.recall_target:.2f}): **{_verdict(rep.recall_pass)}**",
        f"- False positives: {rep.n_extra} = {rep.fp_per_capture:.2f} per capture "
        f"(target <= {rep.expectations.fp_target:.2f}): **{_verdict(rep.fp_pass)}**; "
        f"{rep.fp_per_benign_capture:.2f} per capture with no labelled attack.",
        f"- Overall: **{_verdict(rep.passed)}**",
        "",
    ]
    return "\n".join(out)
