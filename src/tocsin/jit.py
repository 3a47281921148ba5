"""The one way Tocsin compiles a hot-path kernel (numba), so every kernel gets the same flags.

- `cache=True`: compiled once per machine, loaded from the cache afterwards.
- `_nrt=False`: kernels never allocate; they work on arrays their Python caller owns. Without
  numba's reference-counting runtime, calls between kernels pass arrays without atomic
  increments and decrements — measured here: the decoder went from ~195 to ~41 ns a packet.
  A kernel that tries to allocate (np.empty, a list...) fails to compile, which is the point.
- `nogil=True`: a kernel releases the GIL while it runs, so the EVE writer thread formats
  flows on the second core while the main thread decodes the next batch.

The cache: numba checks a cached kernel against its own source file only, yet kernels bake in
constants imported from other modules (record layouts, counter indexes). A change to
`flow/layout.py` alone would load stale machine code that writes past the end of an array. So
the cache lives in a directory named after a hash of the source files kernels can depend on
(every module using `tocsin.jit`, and what those import, transitively)
(`$TOCSIN_CACHE_DIR`, default `$XDG_CACHE_HOME/tocsin` or `~/.cache/tocsin`), set before any
kernel is compiled; caches of other versions unused for a week are removed.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numba

_njit: Any = numba.njit  # `_nrt` is not in numba's type stubs


_IMPORT = re.compile(rb"^\s*(?:from|import)\s+(tocsin(?:\.\w+)+)", re.MULTILINE)


def _kernel_sources(root: Path) -> list[Path]:
    """The source files compiled kernels can depend on: every module that uses this one
    (`tocsin.jit`), and every `tocsin` module those import, transitively (record layouts,
    constants). Plain-Python modules (parsers, CLI, pipeline wiring) stay out, so editing them
    keeps the compiled kernels."""
    texts = {p: p.read_bytes() for p in root.rglob("*.py")}

    def module_path(name: bytes) -> Path | None:
        parts = name.decode().split(".")[1:]
        for cand in (
            root.joinpath(*parts).with_suffix(".py"),
            root.joinpath(*parts, "__init__.py"),
        ):
            if cand in texts:
                return cand
        if len(parts) > 1:  # `from tocsin.pkg import name`: name may be an attribute
            return module_path(b".".join([b"tocsin", *[x.encode() for x in parts[:-1]]]))
        return None

    todo = [p for p, t in texts.items() if b"tocsin.jit import" in t]
    seen = set(todo)
    while todo:
        p = todo.pop()
        for m in _IMPORT.findall(texts[p]):
            q = module_path(m)
            if q is not None and q not in seen:
                seen.add(q)
                todo.append(q)
    return sorted(seen)


def _source_fingerprint() -> str:
    """A hash of the Python source files kernels may depend on (a few ms at start-up)."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha1(usedforsecurity=False)
    for path in _kernel_sources(root):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _cache_dir() -> Path | None:
    base = os.environ.get("TOCSIN_CACHE_DIR")
    if base is None:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = str(Path(xdg) / "tocsin" if xdg else Path.home() / ".cache" / "tocsin")
    parent = Path(base)
    here = parent / f"numba-{_source_fingerprint()}"
    try:
        here.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None  # no writable cache: numba compiles in memory, every run
    week_ago = time.time() - 7 * 86400
    for old in parent.glob("numba-*"):  # other versions', unused for a week
        if old != here and old.stat().st_mtime < week_ago:
            shutil.rmtree(old, ignore_errors=True)
    os.utime(here)
    return here


_dir = _cache_dir()
if _dir is not None:
    numba_config: Any = numba.config
    numba_config.CACHE_DIR = str(_dir)


def kernel(fn: Callable[..., Any]) -> Any:
    """Compile `fn` as a non-allocating, cached numba function (a numba Dispatcher)."""
    return _njit(cache=_dir is not None, _nrt=False, nogil=True)(fn)


def inline_kernel(fn: Callable[..., Any]) -> Any:
    """Like `kernel`, inlined into its callers at numba's IR level (small helpers)."""
    return _njit(cache=_dir is not None, _nrt=False, nogil=True, inline="always")(fn)
