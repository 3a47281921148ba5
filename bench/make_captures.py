"""Build the bench captures `bench/data/mixed.pcap` and `bench/data/flood.pcap`.

    python bench/make_captures.py [--only mixed,flood] [--force] [--corpus DIR]

Deterministic: the same corpus and the same generator code give the same bytes. Next to each
capture it writes `<name>.pcap.sha256` (sha256sum format) and `<name>.pcap.json` (packets, bytes,
sha256 and the recipe fingerprint: a hash of the generator sources and of the corpus files
used). A capture whose recipe and sha256 both match is not rebuilt.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import capture_flood
import capture_mixed

BENCH = Path(__file__).resolve().parent
DATA = BENCH / "data"
DEFAULT_CORPUS = BENCH.parent.parent / "shared" / "corpus"
CAPTURES = ("mixed", "flood")


class _HashingWriter:
    """File writer that hashes and counts what goes through it."""

    def __init__(self, f: BinaryIO) -> None:
        self.f, self.sha, self.size = f, hashlib.sha256(), 0

    def write(self, b: bytes) -> int:
        self.sha.update(b)
        self.size += len(b)
        return self.f.write(b)


def _progress(label: str) -> Callable[[int, int], None]:
    t0 = time.monotonic()

    def show(done: int, total: int) -> None:
        print(
            f"\r  {label}: {done:,}/{total:,} packets ({time.monotonic() - t0:.0f} s)",
            end="" if done < total else "\n",
            file=sys.stderr,
            flush=True,
        )

    return show


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 24):
            h.update(chunk)
    return h.hexdigest()


def recipe(name: str, corpus: Path) -> str:
    h = hashlib.sha256()
    modules = ["pcapio.py", f"capture_{name}.py"]
    for m in modules:
        h.update((BENCH / m).read_bytes())
    if name == "mixed":
        for rel in capture_mixed.CORPUS_FILES:
            h.update(rel.encode())
            h.update(hashlib.sha256((corpus / rel).read_bytes()).digest())
    return h.hexdigest()


def read_meta(pcap: Path) -> dict[str, Any] | None:
    meta = pcap.with_name(pcap.name + ".json")
    try:
        data: dict[str, Any] = json.loads(meta.read_text())
    except (OSError, ValueError):
        return None
    return data


def up_to_date(pcap: Path, fingerprint: str) -> bool:
    meta = read_meta(pcap)
    if meta is None or meta.get("recipe") != fingerprint or not pcap.exists():
        return False
    if pcap.stat().st_size != meta.get("file_bytes"):
        return False
    print(f"{pcap.name}: checking sha256 ...", file=sys.stderr)
    return sha256_file(pcap) == meta.get("sha256")


def build(name: str, corpus: Path, data_dir: Path = DATA, force: bool = False) -> dict[str, Any]:
    """Build one capture unless it is up to date; returns its metadata."""
    data_dir.mkdir(parents=True, exist_ok=True)
    pcap = data_dir / f"{name}.pcap"
    fingerprint = recipe(name, corpus)
    if not force and up_to_date(pcap, fingerprint):
        meta = read_meta(pcap)
        assert meta is not None
        print(f"{pcap.name}: up to date, sha256 {meta['sha256']}", file=sys.stderr)
        return meta
    t0 = time.monotonic()
    tmp = pcap.with_suffix(".pcap.part")
    extra: dict[str, Any] = {}
    with tmp.open("wb") as raw:
        out = _HashingWriter(raw)
        if name == "mixed":
            src = capture_mixed.load_sources(corpus, log=lambda s: print(s, file=sys.stderr))
            rounds = capture_mixed.plan_rounds(src)
            packets = capture_mixed.write_mixed(src, rounds, out, _progress(name))
            extra = {"rounds": rounds, "corpus_files": list(capture_mixed.CORPUS_FILES)}
        else:
            p = capture_flood.build(lambda s: print(s, file=sys.stderr))
            packets = capture_flood.write_flood(p, out, _progress(name))
    tmp.replace(pcap)
    meta = {
        "name": name,
        "packets": packets,
        "file_bytes": out.size,
        "captured_bytes": out.size - 24 - 16 * packets,
        "sha256": out.sha.hexdigest(),
        "recipe": fingerprint,
        "build_s": round(time.monotonic() - t0, 1),
        **extra,
    }
    pcap.with_name(pcap.name + ".json").write_text(json.dumps(meta, indent=2) + "\n")
    pcap.with_name(pcap.name + ".sha256").write_text(f"{meta['sha256']}  {pcap.name}\n")
    print(
        f"{pcap.name}: {packets:,} packets, {out.size:,} bytes, sha256 {meta['sha256']} "
        f"({meta['build_s']} s)",
        file=sys.stderr,
    )
    return meta


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--only", default=",".join(CAPTURES), help="comma-separated: mixed,flood")
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--data-dir", type=Path, default=DATA)
    ap.add_argument("--force", action="store_true", help="rebuild even if up to date")
    args = ap.parse_args(argv)
    for name in args.only.split(","):
        if name not in CAPTURES:
            ap.error(f"unknown capture {name!r}")
        meta = build(name, args.corpus, args.data_dir, args.force)
        print(f"{meta['sha256']}  {name}.pcap  {meta['packets']} packets  {meta['file_bytes']} B")
    return 0


if __name__ == "__main__":
    sys.exit(main())
