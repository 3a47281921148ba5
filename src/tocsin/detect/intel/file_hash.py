"""Listed file hashes in transfers (`intel.file_hash`).

Reads `fileinfo` events (HTTP response bodies and PUT uploads, hashed when file hashing is on:
`tocsin analyze --file-hashes`, or by itself when file-hash indicators are loaded). A file
matches when its MD5, SHA-1 or SHA-256 (of the decoded content: de-chunked, Content-Encoding
undone) equals a listed hash of that type. The internal host is the receiver of the file
(the downloader; for an upload, the uploader when only it is internal).

Evidence: the indicator (source, threat, confidence, TLP), the hash type that matched, the
file name, size, the URL (`hostname` + `url` of the transaction), the sender.

One alert per (listed hash, internal host) per re-alert window: the same file fetched again
folds into the first alert (`times_seen` counts them).

Near misses it ignores on purpose: files not hashed whole (`state` other than `CLOSED`: a
gap, a flow that ended first, a file over the size bound; Suricata writes a `sha256` of the
part it saw, never matched here), a hash listed under another type (an MD5 value is only
compared with MD5s), expired indicators.
"""

from __future__ import annotations

from typing import Any

from tocsin.detect.correlate.plugin import Context, DetectorInfo, event_us
from tocsin.detect.intel._common import IntelDetector, Seen

_KINDS = ("sha256", "sha1", "md5")  # the strongest first: reported when several match


class IntelFileHash(IntelDetector):
    """A file whose hash a threat feed lists, seen in a transfer."""

    info = DetectorInfo(
        name="intel.file_hash",
        signature_id=8_100_006,
        signature="TOCSIN INTEL file hash listed by a threat feed",
        category="Potentially Bad Traffic",
        technique="T1105",
        tactic="TA0011",
        severity=1,
        confidence="high",
        description=(
            "A file (HTTP download or upload) whose MD5, SHA-1 or SHA-256 a loaded threat "
            "feed lists."
        ),
    )
    subscribes = frozenset({"fileinfo"})

    def on_event(self, ev: Any, ctx: Context) -> None:
        f = ev.fileinfo
        if f.state != "CLOSED":
            return
        for kind in _KINDS:
            value = getattr(f, kind, None)
            if not value:
                continue
            hits = self.intel.exact(kind, value.lower())
            if not hits:
                continue
            ts = event_us(ev, ctx.now_us)
            live = self.live(hits, ts)
            if live:
                self._report(ev, ctx, ts, kind, value.lower(), live)
                return

    def _report(
        self, ev: Any, ctx: Context, ts: int, kind: str, value: str, inds: list[Any]
    ) -> None:
        src, dst = str(ev.src_ip), str(ev.dest_ip)  # the file's sender, its receiver
        uploader = not ctx.home.internal(dst) and ctx.home.internal(src)
        host, peer = (src, dst) if uploader else (dst, src)
        h = getattr(ev, "http", None)
        url = None
        if h is not None and h.url:
            url = (h.hostname or (dst if uploader else src)) + h.url
        seen = Seen(
            event_type="fileinfo",
            field=f"fileinfo.{kind}",
            observed=value,
            ts_us=ts,
            host=host,
            peer=peer,
            src_port=ev.src_port if uploader else ev.dest_port,
            dest_port=ev.dest_port if uploader else ev.src_port,
            proto=ev.proto,
            flow_id=int(ev.flow_id) if ev.flow_id is not None else None,
            app_proto=ev.app_proto or "http",
        )
        extra: dict[str, Any] = {
            "hash_type": kind,
            "file_name": ev.fileinfo.filename[:256],
            "file_size": ev.fileinfo.size,
            "transfer": "upload" if uploader else "download",
            "sender": peer,
        }
        if url is not None:
            extra["url"] = url[:512]
        self.report(ctx, inds, seen, extra)


DETECTORS = (IntelFileHash,)
