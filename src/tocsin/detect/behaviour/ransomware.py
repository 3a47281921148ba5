"""Ransomware encrypting files over SMB (`behaviour.smb_ransomware`, 8_000_310 / 8_000_311).

Reads `smb` events (CREATE with a writing disposition, WRITE, SET_INFO rename, delete on
close) and `smb_file` events (bytes written, delete on close). Per (client, server) pair it
keeps a sliding window of `window_s` seconds of file operations (at most `max_ops` entries)
and counts distinct file names by operation. Findings (one per pair per re-alert window):

- **mass change** (8_000_310, severity 1): at least `min_files` distinct files written AND
  at least `min_files` distinct files renamed or deleted in the window: in-place encryption
  then rename, or encrypted copy then delete of the original. Confidence high when files
  also got a known ransomware extension (`min_ext_hits`), medium otherwise.
- **ransomware extension** (8_000_310, severity 1, high): `min_ext_files` distinct files
  renamed to, or written with, a known ransomware extension (`.lockbit`, `.ryk`, `.conti`,
  `.hive`... ~130, see `_ransom_names`).
- **ransom note** (8_000_311, severity 2, medium): a file written with a telling ransom-note
  name (`HOW_TO_DECRYPT.txt`, `RESTORE-MY-FILES.TXT`, `<id>_readme.txt`...), or a generic
  one (`README.txt`, `info.txt`...) written in at least `min_note_dirs` folders.

Evidence: counts by operation, extensions seen, notes, up to 10 sample file names, the
share(s), the window's first/last times and the thresholds. File names on shares are not
patient data, but the sample is capped.

Near misses it does not alert on: a user copying a folder to a share (many creates and
writes, no renames or deletes); a backup or antivirus job reading every file (no writes);
moving a folder (renames, no writes); deleting a folder (deletes, no writes); Office lock
and temporary files (`~$name.docx`, `~WRL1234.tmp`, `*.tmp`), which are not counted.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from tocsin.detect.behaviour._lateral_common import SmbTrees, event_us, share_name
from tocsin.detect.behaviour._ransom_names import note_kind, ransom_extension
from tocsin.detect.correlate.plugin import Context, Detector, DetectorInfo, Finding
from tocsin.detect.correlate.state import BoundedMap
from tocsin.model.smb import SmbEvent, SmbFileEvent
from tocsin.output.timefmt import eve_timestamp

_SAMPLE = 10
_WRITING = frozenset({"FILE_CREATE", "FILE_OVERWRITE_IF", "FILE_OVERWRITE", "FILE_SUPERSEDE"})
NOTE_SID = 8_000_311
_EXT_SIG = "TOCSIN BEHAVIOUR ransomware over SMB: files renamed to a known ransomware extension"

# operations kept in the window
WRITE, RENAME, DELETE, EXT, NOTE = "write", "rename", "delete", "ext", "note"


@dataclass(frozen=True, slots=True)
class SmbRansomwareConfig:
    window_s: int = 60
    min_files: int = 50  # distinct files written, and distinct files renamed/deleted
    min_ext_files: int = 10  # distinct files given a known ransomware extension
    min_ext_hits: int = 3  # extension hits that make a mass change "high" confidence
    min_note_dirs: int = 3  # folders a generic note name (README.txt) must appear in
    max_ops: int = 20_000  # operations kept per pair (oldest dropped)
    max_pairs: int = 10_000


@dataclass(slots=True)
class _Win:
    flow_id: int
    ops: deque[tuple[int, str, str]] = field(default_factory=deque)
    names: dict[str, Counter[str]] = field(default_factory=dict)
    exts: Counter[str] = field(default_factory=Counter)
    shares: set[str] = field(default_factory=set)
    sample: list[str] = field(default_factory=list)
    mass_done: bool = False
    note_done: bool = False

    def add(self, ts: int, op: str, name: str) -> None:
        self.ops.append((ts, op, name))
        self.names.setdefault(op, Counter())[name] += 1

    def drop_before(self, t0: int, max_ops: int) -> None:
        while self.ops and (self.ops[0][0] < t0 or len(self.ops) > max_ops):
            _, op, name = self.ops.popleft()
            c = self.names[op]
            c[name] -= 1
            if c[name] <= 0:
                del c[name]

    def distinct(self, op: str) -> int:
        return len(self.names.get(op, ()))


def _ignored(basename: str) -> bool:
    b = basename.lower()
    return b.startswith("~") or b.endswith((".tmp", ".temp")) or b in ("thumbs.db", "desktop.ini")


def _split(path: str) -> tuple[str, str]:
    p = path.replace("/", "\\").rstrip("\\")
    d, _, b = p.rpartition("\\")
    return d.lower(), b


class SmbRansomware(Detector):
    info = DetectorInfo(
        name="behaviour.smb_ransomware",
        signature_id=8_000_310,
        signature="TOCSIN BEHAVIOUR ransomware over SMB: mass file modification and rename",
        category="Potentially Bad Traffic",
        technique="T1486",
        tactic="TA0040",
        severity=1,
        confidence="high",
        description="One SMB client writing and renaming/deleting many files of a share in a "
        "short window, renaming files to known ransomware extensions, or dropping ransom notes.",
    )
    subscribes = frozenset({"smb", "smb_file"})
    Config = SmbRansomwareConfig

    def __init__(self, config: SmbRansomwareConfig | None = None) -> None:
        super().__init__(config or SmbRansomwareConfig())
        self.cfg: SmbRansomwareConfig = self.config
        self.trees = SmbTrees(self.cfg.max_pairs)
        self.pairs: BoundedMap[tuple[str, str], _Win] = BoundedMap(self.cfg.max_pairs)

    def on_event(self, ev: Any, ctx: Context) -> None:
        ops: list[tuple[str, str]] = []
        share = ""
        if isinstance(ev, SmbFileEvent):
            f = ev.smb_file
            share = share_name(f.share)
            if f.bytes_written:
                ops.append((WRITE, f.filename))
            if f.delete_on_close:
                ops.append((DELETE, f.filename))
        elif isinstance(ev, SmbEvent):
            self.trees.observe(ev)
            s = ev.smb
            if s.dcerpc is not None or s.status not in (None, "STATUS_SUCCESS"):
                return
            share = self.trees.share(ev)
            cmd = s.command or ""
            if s.rename is not None:
                ops.append((RENAME, s.rename.from_))
                ops.append(("to", s.rename.to))
            elif s.filename and s.access == "delete on close":
                ops.append((DELETE, s.filename))
            elif s.filename and (
                cmd.endswith("WRITE") or (cmd.endswith("CREATE") and s.disposition in _WRITING)
            ):
                ops.append((WRITE, s.filename))
        if not ops:
            return
        ts = event_us(ev)
        w = self.pairs.get_or_create((ev.src_ip, ev.dest_ip), lambda: _Win(int(ev.flow_id)))
        w.drop_before(ts - self.cfg.window_s * 1_000_000, self.cfg.max_ops)
        if not w.ops:  # a quiet window: a later burst is a new episode
            w.mass_done = w.note_done = False
            w.exts.clear()
            w.sample.clear()
        if share and len(w.shares) < _SAMPLE:
            w.shares.add(share)
        for op, path in ops:
            folder, base = _split(path)
            if not base or _ignored(base):
                continue
            if op != "to":
                w.add(ts, op, path.lower())
            if op in ("to", WRITE):
                ext = ransom_extension(base)
                if ext is not None:
                    w.add(ts, EXT, path.lower())
                    w.exts[ext] += 1
                kind = note_kind(base) if op == WRITE else None
                if kind is not None:
                    w.add(ts, NOTE, f"{kind}|{folder}|{base}")
            if len(w.sample) < _SAMPLE and path not in w.sample and op != DELETE:
                w.sample.append(path)
        self._judge(ev, ts, w, ctx)

    def _judge(self, ev: Any, ts: int, w: _Win, ctx: Context) -> None:
        c = self.cfg
        written = w.distinct(WRITE)
        destroyed = len(set(w.names.get(RENAME, ())) | set(w.names.get(DELETE, ())))
        ext_files = w.distinct(EXT)
        mass = written >= c.min_files and destroyed >= c.min_files
        notes = list(w.names.get(NOTE, ()))
        specific = [n for n in notes if n.startswith("specific|")]
        generic_dirs = {n.split("|")[1] for n in notes if n.startswith("generic|")}
        note_hit = bool(specific) or len(generic_dirs) >= c.min_note_dirs
        if not w.mass_done and (mass or ext_files >= c.min_ext_files):
            w.mass_done = True
            high = ext_files >= (c.min_ext_hits if mass else c.min_ext_files)
            sig = None if mass else _EXT_SIG
            self._emit(ev, ts, w, ctx, "mass", sig, None, "high" if high else "medium")
        elif not w.note_done and not w.mass_done and note_hit:
            w.note_done = True
            self._emit(
                ev,
                ts,
                w,
                ctx,
                "note",
                "TOCSIN BEHAVIOUR ransomware over SMB: ransom note written to a share",
                2,
                "medium",
                sid=NOTE_SID,
            )

    def _emit(
        self,
        ev: Any,
        ts: int,
        w: _Win,
        ctx: Context,
        kind: str,
        sig: str | None,
        sev: int | None,
        conf: str,
        sid: int | None = None,
    ) -> None:
        c = self.cfg
        first = w.ops[0][0] if w.ops else ts
        notes = sorted({n.split("|", 2)[2] for n in w.names.get(NOTE, ())})
        ctx.emit(
            Finding.from_event(
                ev,
                key=f"{ev.src_ip}>{ev.dest_ip}:{kind}",
                ts_us=ts,
                proto="TCP",
                app_proto="smb",
                signature=sig,
                signature_id=sid,
                severity=sev,
                confidence=conf,
                evidence={
                    "files_written": w.distinct(WRITE),
                    "files_renamed": w.distinct(RENAME),
                    "files_deleted": w.distinct(DELETE),
                    "files_with_ransom_extension": w.distinct(EXT),
                    "extensions": dict(w.exts.most_common(_SAMPLE)),
                    "ransom_notes": notes[:_SAMPLE],
                    "shares": sorted(w.shares),
                    "files_sample": w.sample[:_SAMPLE],
                    "first_seen": eve_timestamp(first),
                    "last_seen": eve_timestamp(ts),
                    "threshold": f"{c.min_files} files written and {c.min_files} renamed/"
                    f"deleted, or {c.min_ext_files} ransomware extensions, in {c.window_s} s",
                },
            )
        )

    def counters(self) -> dict[str, int]:
        return {"evicted": self.pairs.evicted + self.trees.evicted, "tracked": len(self.pairs)}


DETECTORS = (SmbRansomware,)
