"""The Hyperscan prefilter: every rule's fast pattern in one database per buffer.

A `PatternSet` is one Hyperscan block-mode database of literal patterns (each a rule's fast
pattern, caseless where the content is `nocase`); pattern ids are indices into
`PatternSet.rules`, the rules that share that exact pattern.

Packet payloads are scanned a whole sub-batch at a time (`scan_many`): the payloads are
gathered into one buffer and scanned in a single call, and each match end is mapped back to
its packet (a match that straddles two payloads maps to the second one: a false candidate,
which full evaluation rejects — never a missed one, since every in-payload match is reported
too). One `scan()` per payload would cost more in Python-to-C calls than the scan itself.

Compiled databases serialise (`dump`/`load`) for the on-disk rule cache (`detect.cache`).
"""

from __future__ import annotations

from collections.abc import Sequence

import hyperscan as hs
import numpy as np
import numpy.typing as npt


def _expr(pattern: bytes) -> bytes:
    """A literal pattern as a Hyperscan expression (every byte escaped)."""
    return b"".join(b"\\x%02x" % c for c in pattern)


class PatternSet:
    """Literal patterns → the rules (indices into the engine's rule list) that use each."""

    __slots__ = ("_db", "_scratch", "npatterns", "rules")

    def __init__(
        self,
        patterns: Sequence[tuple[bytes, bool]],
        rules: Sequence[Sequence[int]],
        blob: bytes | None = None,
    ) -> None:
        """`patterns[k]` = (bytes, caseless), used by rules `rules[k]`; `blob` is a
        serialised database of exactly these patterns (from `dump`)."""
        self.rules = [tuple(r) for r in rules]
        self.npatterns = len(patterns)
        self._db: hs.Database | None = None
        self._scratch: hs.Scratch | None = None
        if not patterns:
            return
        if blob is not None:
            self._db = hs.loadb(blob, hs.HS_MODE_BLOCK)
        else:
            db = hs.Database(mode=hs.HS_MODE_BLOCK)
            db.compile(
                expressions=[_expr(p) for p, _ in patterns],
                ids=list(range(len(patterns))),
                elements=len(patterns),
                flags=[hs.HS_FLAG_CASELESS if nocase else 0 for _, nocase in patterns],
            )
            self._db = db
        self._scratch = hs.Scratch(self._db)
        self._db.scratch = self._scratch

    def dump(self) -> bytes | None:
        return None if self._db is None else bytes(hs.dumpb(self._db))

    def scan(self, buf: bytes) -> set[int]:
        """Pattern ids found in `buf`."""
        found: set[int] = set()
        if self._db is None or not buf:
            return found
        add = found.add

        def on_match(pid: int, _from: int, _to: int, _flags: int, _ctx: object) -> None:
            add(pid)

        self._db.scan(buf, match_event_handler=on_match)
        return found

    def scan_many(
        self,
        data: npt.NDArray[np.uint8],
        starts: npt.NDArray[np.int64],
        lens: npt.NDArray[np.int64],
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Scan payloads `data[starts[k]:starts[k]+lens[k]]` in one call; returns
        (payload index k, pattern id) pairs, unique, sorted by payload."""
        empty = np.zeros(0, dtype=np.int64)
        if self._db is None or lens.size == 0:
            return empty, empty
        total = int(lens.sum())
        if total == 0:
            return empty, empty
        ends = np.cumsum(lens)
        # byte j of the gathered buffer comes from data[starts[k] + (j - (ends[k]-lens[k]))]
        shift = np.repeat(starts - (ends - lens), lens)
        buf = data[np.arange(total, dtype=np.int64) + shift].tobytes()
        pids: list[int] = []
        tos: list[int] = []
        ap, at = pids.append, tos.append

        def on_match(pid: int, _from: int, to: int, _flags: int, _ctx: object) -> None:
            ap(pid)
            at(to)

        self._db.scan(buf, match_event_handler=on_match)
        if not pids:
            return empty, empty
        # a match ending at byte `to` (exclusive) lies in the payload whose span holds to-1
        which = np.searchsorted(ends, np.asarray(tos, dtype=np.int64) - 1, side="right")
        pid_arr = np.asarray(pids, dtype=np.int64)
        key = np.unique(which * (self.npatterns + 1) + pid_arr)
        return key // (self.npatterns + 1), key % (self.npatterns + 1)
