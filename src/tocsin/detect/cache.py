"""Loading a rule set for detection, with an on-disk cache of the compiled result.

`load_engine(paths, ...)` parses the rule files (`detect.rules`), builds the `DetectEngine`
(fast patterns compiled into Hyperscan databases) and stores both in the cache directory,
keyed by a hash of everything the result depends on: the rule files' bytes, the variables,
the classification file, the detection code's sources, and Hyperscan's version. The next run
with the same inputs loads the parsed rules and the serialised databases instead of redoing
the work (ET Open: seconds cold, well under a second warm). A cache entry that cannot be read
is ignored and rewritten; a cache directory that cannot be written only costs the speed-up.

Cache directory: `$TOCSIN_CACHE_DIR`, else `$XDG_CACHE_HOME/tocsin`, else `~/.cache/tocsin`.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import hyperscan

from tocsin import __version__
from tocsin.detect.engine import DetectConfig, DetectEngine
from tocsin.detect.model import RuleSet
from tocsin.detect.rules.address import RuleVars
from tocsin.detect.rules.loader import load_rules

_FORMAT = 2  # single-match databases


def cache_dir() -> Path:
    env = os.environ.get("TOCSIN_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "tocsin"


@dataclass(slots=True)
class Loaded:
    ruleset: RuleSet
    engine: DetectEngine
    from_cache: bool


def _code_hash() -> bytes:
    """The detection code's own sources: a cached rule set is only as good as the parser and
    compiler that made it."""
    h = hashlib.sha256()
    root = Path(__file__).resolve().parent
    for src in sorted(root.rglob("*.py")):
        h.update(src.read_bytes())
    return h.digest()


def _key(paths: Sequence[Path], vars: RuleVars | None, classification: Path | None) -> str:
    h = hashlib.sha256()
    h.update(f"{_FORMAT}|{__version__}|{getattr(hyperscan, '__version__', '')}|".encode())
    h.update(_code_hash())
    for p in [*paths, *([classification] if classification else [])]:
        h.update(str(p.resolve()).encode() + b"\0")
        h.update(p.read_bytes())
        h.update(b"\0")
    h.update(repr(vars).encode())
    return h.hexdigest()


def load_engine(
    paths: Sequence[Path | str],
    vars: RuleVars | None = None,
    classification: Path | None = None,
    config: DetectConfig | None = None,
    use_cache: bool = True,
) -> Loaded:
    """Rules from files, ready to run (see the module docstring). Raises
    `rules.loader.RuleFileError` for a file that cannot be read."""
    files = [Path(p) for p in paths]
    key: str | None = None
    if use_cache:
        try:
            key = _key(files, vars, classification)
        except OSError:
            key = None  # a file that cannot be read: load_rules says which, clearly
    entry = cache_dir() / "rules" / f"{key}.pickle" if key else None
    if entry is not None and entry.is_file():
        try:
            with entry.open("rb") as f:
                ruleset, blobs = pickle.load(f)
            return Loaded(ruleset, DetectEngine(ruleset.rules, config, blobs), True)
        except Exception:  # a stale or damaged entry: rebuild it
            pass
    ruleset = load_rules(files, vars, classification)
    engine = DetectEngine(ruleset.rules, config)
    if entry is not None:
        try:
            entry.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=entry.parent, delete=False) as tmp:
                pickle.dump((ruleset, engine.blobs()), tmp, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp.name, entry)
        except OSError:
            pass
    return Loaded(ruleset, engine, False)
