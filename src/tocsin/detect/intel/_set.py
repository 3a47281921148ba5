"""`IntelSet`: every loaded indicator, indexed for the detectors, and `load_intel` to build it.

`load_intel(paths, allowlists, warninglists)` reads each path (a file, or a directory read
recursively: `*.txt`/`*.list` lists and trail files, `*.csv`, `*.json` MISP or STIX by
content, a MISP feed directory by its `manifest.json`), drops duplicates and what the
allow-lists hold, and indexes the rest:

- addresses and networks in an `IpIndex` (vectorised lookups over flow columns);
- every other kind in a dict per kind, value → indicators; domains are looked up for the
  name and each parent (`a.b.evil.com` → `b.evil.com` → `evil.com` → `com`), so a listed
  domain covers every name under it;
- URLs as `host/path?query`, and path-only trails under the host "".

A source that cannot be read raises `IntelError` (naming it); bad lines and entries are
skipped and counted in `stats` (with `file:line` in `stats.problems`).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from tocsin.detect.intel._allow import AllowList, site_allowlist, warninglists
from tocsin.detect.intel._ipindex import IpIndex
from tocsin.detect.intel._load_csv import load_csv
from tocsin.detect.intel._load_misp import is_misp, load_json, load_misp
from tocsin.detect.intel._load_stix import is_stix, load_stix
from tocsin.detect.intel._load_text import load_lines
from tocsin.detect.intel._model import Indicator, IntelError, LoadStats, split_url

_LIST_SUFFIXES = {".txt", ".list", ".lst", ".ioc", ".trail", ""}


class IntelSet:
    """Indicators indexed by kind; see the module docstring."""

    def __init__(
        self,
        indicators: Iterable[Indicator] = (),
        stats: LoadStats | None = None,
        allow: AllowList | None = None,
    ) -> None:
        self.stats = stats or LoadStats()
        self.allow = allow or AllowList()
        self.allow.nets.freeze()
        self.ips: IpIndex[Indicator] = IpIndex()
        self.values: dict[str, dict[str, list[Indicator]]] = {}
        seen: set[tuple[str, str, str, str, int | None]] = set()
        st = self.stats
        for ind in indicators:
            k = (ind.kind, ind.value, ind.source, ind.threat, ind.port)
            if k in seen:
                st.duplicates += 1
                continue
            seen.add(k)
            held = self._allowed(ind)
            if held is not None:
                st.allowlisted += 1
                st.allow_by_list[held] = st.allow_by_list.get(held, 0) + 1
                continue
            if ind.kind in ("ip", "cidr"):
                if not self.ips.add(ind.value, ind):
                    st.problem(ind.reference, f"not an address: {ind.value!r}")
                    continue
            else:
                self.values.setdefault(ind.kind, {}).setdefault(ind.value, []).append(ind)
            st.indicators += 1
            st.by_kind[ind.kind] = st.by_kind.get(ind.kind, 0) + 1
            st.by_source[ind.source] = st.by_source.get(ind.source, 0) + 1
        self.ips.freeze()

    def _allowed(self, ind: Indicator) -> str | None:
        a = self.allow
        if not len(a):
            return None
        kind = ind.kind
        if kind in ("domain", "sni"):
            return a.domain(ind.value)
        if kind == "ip":
            return a.ip(ind.value)
        if kind == "url":  # only the site's own domains: a URL on a top site is specific
            host = split_url(ind.value)[0]
            held = a.domain(host) if host else None
            return held if held is not None and held.startswith("site:") else None
        if kind == "cidr":
            return None  # checked when an address inside matches (`allowed_ip`)
        return a.value(ind.value)

    def __len__(self) -> int:
        return self.stats.indicators

    def count(self, *kinds: str) -> int:
        return sum(self.stats.by_kind.get(k, 0) for k in kinds)

    def exact(self, kind: str, value: str) -> list[Indicator]:
        d = self.values.get(kind)
        return d.get(value, []) if d else []

    def domain(self, name: str) -> list[tuple[str, Indicator]]:
        """(listed domain, indicator) for `name` and each parent of it."""
        d = self.values.get("domain")
        if not d or not name:
            return []
        n = name.rstrip(".").lower()
        out: list[tuple[str, Indicator]] = []
        while True:
            hit = d.get(n)
            if hit:
                out += [(n, i) for i in hit]
            dot = n.find(".")
            if dot < 0:
                return out
            n = n[dot + 1 :]

    def url(self, host: str, path: str) -> list[tuple[str, Indicator]]:
        """(listed URL, indicator) for a request to `host` of `path` (query kept or cut;
        path-only trails match any host)."""
        d = self.values.get("url")
        if not d:
            return []
        host = host.lower().rstrip(".")
        bare = path.split("?", 1)[0]
        keys = dict.fromkeys((host + path, host + bare, path, bare))
        return [(k, i) for k in keys for i in d.get(k, ())]

    def allowed_ip(self, ip: str) -> str | None:
        return self.allow.ip(ip)


def load_intel(
    paths: Iterable[str | Path],
    allowlists: Iterable[str | Path] = (),
    use_warninglists: bool = True,
) -> IntelSet:
    """Read every indicator source and allow-list; see the module docstring."""
    stats = LoadStats()
    allow = AllowList()
    site = tuple(str(p) for p in allowlists)
    for a in site:
        if not Path(a).is_file():
            raise IntelError(f"{a}: allow-list not found (a plain list or CSV file)")
    site_allowlist(site, allow)
    if use_warninglists:
        warninglists(allow)
    out: list[Indicator] = []
    for p in paths:
        out += load_path(Path(p), stats)
    return IntelSet(out, stats, allow)


def load_path(path: Path, stats: LoadStats) -> list[Indicator]:
    """One source: a file (format by extension, JSON by content) or a directory."""
    if path.is_dir():
        if (path / "manifest.json").is_file():
            stats.sources += 1
            return load_misp(path, stats)
        out: list[Indicator] = []
        for f in sorted(path.iterdir()):
            if f.name.startswith("."):
                continue
            if f.is_dir() or _indicator_file(f):
                out += load_path(f, stats)
        return out
    if not path.exists():
        raise IntelError(f"{path}: indicator source not found (a file or a directory)")
    stats.sources += 1
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return load_csv(path, stats)
    if suffix == ".json":
        doc = load_json(path)
        if is_stix(doc):
            return load_stix(path, stats, doc)
        if is_misp(doc):
            return load_misp(path, stats, doc)
        raise IntelError(f"{path}: JSON that is neither a STIX 2.1 bundle nor a MISP event")
    if suffix in _LIST_SUFFIXES:
        return load_lines(path, stats)
    raise IntelError(
        f"{path}: unknown indicator format {suffix!r} "
        "(plain list .txt, .csv, MISP or STIX .json, or a directory)"
    )


def _indicator_file(f: Path) -> bool:
    s = f.suffix.lower()
    if f.name.upper().startswith(("LICENSE", "README", "COPYING", "PROVENANCE")):
        return False
    return s in (".csv", ".json") or (s in _LIST_SUFFIXES and s != "")
