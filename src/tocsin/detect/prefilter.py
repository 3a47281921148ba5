"""The Hyperscan prefilter: every rule's fast pattern in one database per buffer.

A `PatternSet` is one Hyperscan block-mode database of literal patterns (each a rule's fast
pattern, caseless where the content is `nocase`); pattern ids are indices into
`PatternSet.rules`, the rules that share that exact pattern.

Every pattern is compiled single-match: a pattern reports once per scanned buffer, however
often it occurs. That matters more than the call count: rule sets carry fast patterns such as
`|00 00 00 00 00|` or `AAAAAAAA` that occur dozens of times in one payload. Scanning a whole
sub-batch's payloads concatenated in one call (one Python-to-C call instead of one per
payload) was measured first: on the benchmark's mixed capture with ET Open it reported 33
matches per packet, 11 times more Python callbacks than the (payload, pattern) pairs a
per-payload single-match scan reports, and cost 5 times as much. So `scan_many` scans each
payload on its own, straight from the batch buffer (no copy), with the payload index as the
callback's context.

Compiled databases serialise (`dump`/`load`) for the on-disk rule cache (`detect.cache`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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
                flags=[
                    (hs.HS_FLAG_CASELESS if nocase else 0) | hs.HS_FLAG_SINGLEMATCH
                    for _, nocase in patterns
                ],
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
        """Scan payloads `data[starts[k]:starts[k]+lens[k]]`; returns (payload index k,
        pattern id) pairs, each pair once, in payload order."""
        empty = np.zeros(0, dtype=np.int64)
        if self._db is None or lens.size == 0:
            return empty, empty
        ks: list[object] = []
        pids: list[int] = []
        ak, ap = ks.append, pids.append

        def on_match(pid: int, _from: int, _to: int, _flags: int, k: object) -> None:
            ak(k)
            ap(pid)

        mv = data.data  # the batch buffer itself: slices are views, not copies
        scan: Any = self._db.scan
        for k, (s, n) in enumerate(zip(starts.tolist(), lens.tolist(), strict=True)):
            scan(mv[s : s + n], match_event_handler=on_match, context=k)
        if not ks:
            return empty, empty
        return np.asarray(ks, dtype=np.int64), np.asarray(pids, dtype=np.int64)
