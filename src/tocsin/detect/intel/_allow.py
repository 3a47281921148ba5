"""Allow-lists: values that never alert, even when a feed lists them.

Two kinds, with different matching on purpose:

- the **site's own** lists (`--allowlist`, plain list or CSV, same syntax as indicator lists):
  a domain covers itself and every name under it (the site knows its own zones), an IP or CIDR
  covers its addresses, other values are exact;
- the **MISP warning lists** shipped in the `pymispwarninglists` wheel (read offline, from the
  package's data), only those named in `WARNINGLISTS` below: big CDNs and cloud front-ends
  (Akamai, Cloudflare, Fastly, Apple, Office 365), public DNS resolvers (addresses and
  hostnames), CRL/OCSP endpoints, Google/Microsoft/Windows-update/Office-365 domains, captive
  portal probes, RFC 6761 special names, bare TLDs and second-level TLDs, top sites (Alexa top
  1000, Cisco Umbrella top 1000, Tranco top 10k), empty-file hashes and the Mozilla trusted CA
  and intermediate certificate fingerprints. A warning-list domain suppresses an indicator
  whose value *is* that domain (`google.com` listed by a feed), not every name under it: a
  feed listing `evil.duckdns.org` still alerts although `duckdns.org` is a top site, and
  `x.azureedge.net` (domain fronting) although Microsoft's list holds `.azureedge.net`.
  Public suffixes (`second-level-tlds`) include the dynamic-DNS parents (`duckdns.org`):
  a trail listing the parent itself is dropped, its listed subdomains are kept.

Allow-listing happens when the indicator set is built (an indicator the lists hold is dropped
and counted per list) and, for CIDR indicators, again when an address matches (a listed
/16 still never alerts on a public resolver inside it; counted by the detector).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources

from tocsin.detect.intel._ipindex import IpIndex
from tocsin.detect.intel._model import IntelError, classify, norm_domain, norm_hex

# folder name under pymispwarninglists' data/misp-warninglists/lists → how its values are used
WARNINGLISTS: dict[str, str] = {
    "akamai": "cidr",
    "cloudflare": "cidr",
    "fastly": "cidr",
    "apple": "cidr",
    "microsoft-office365-ip": "cidr",
    "public-dns-v4": "cidr",
    "public-dns-v6": "cidr",
    "crl-ip": "cidr",
    "google": "domain",
    "microsoft": "domain",
    "microsoft-office365": "domain",
    "microsoft-win10-connection-endpoints": "domain",
    "captive-portals": "domain",
    "crl-hostname": "domain",
    "rfc6761": "domain",
    "tlds": "domain",
    "second-level-tlds": "domain",
    "alexa": "domain",
    "cisco_top1000": "domain",
    "tranco10k": "domain",
    "public-dns-hostname": "domain",
    "empty-hashes": "hash",
    "mozilla-CA": "hash",
    "mozilla-IntermediateCA": "hash",
}


@dataclass(slots=True)
class AllowList:
    """Values never alerted on. `name_of` tells which list held a value (for the counts)."""

    exact: dict[str, str] = field(default_factory=dict)  # value → list name (any kind)
    suffix: dict[str, str] = field(default_factory=dict)  # domain (and names under) → list
    nets: IpIndex[str] = field(default_factory=IpIndex)  # networks → list name
    lists: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.exact) + len(self.suffix) + len(self.nets)

    def domain(self, name: str) -> str | None:
        """The list holding `name` (exactly, or a parent domain given as a suffix)."""
        hit = self.exact.get(name)
        if hit is not None:
            return hit
        if not self.suffix:
            return None
        parts = name.split(".")
        for i in range(len(parts)):
            hit = self.suffix.get(".".join(parts[i:]))
            if hit is not None:
                return hit
        return None

    def value(self, v: str) -> str | None:
        return self.exact.get(v)

    def add_net(self, text: str, name: str) -> bool:
        return self.nets.add(text, name)

    def ip(self, text: str) -> str | None:
        """The list holding the address `text` (call `nets.freeze()` once built)."""
        hit = self.nets.lookup(text)
        return hit[0] if hit else None


def site_allowlist(paths: tuple[str, ...], into: AllowList) -> None:
    """Read the site's allow-lists (plain list or CSV with a `value` column) into `into`."""
    from tocsin.detect.intel._load_text import read_lines  # shared reader, no cycle at import

    for path in paths:
        name = f"site:{path}"
        into.lists.append(name)
        for _lineno, value in read_lines(path):
            if "," in value:  # CSV row: type,value or value,...: take the value-looking cell
                cells = [c.strip().strip('"') for c in value.split(",")]
                typed = [classify(c) for c in cells]
                value = next((c for c, t in zip(cells, typed, strict=True) if t), cells[0])
            t = classify(value)
            if t is None:
                continue  # a header or a note: site lists are the site's own, be lenient
            kind, v, _port = t
            if kind in ("ip", "cidr"):
                into.add_net(v, name)
            elif kind == "domain":
                into.suffix[v] = name
            else:
                into.exact[v] = name


def warninglists(into: AllowList) -> None:
    """Add the selected MISP warning lists (see `WARNINGLISTS`) from the installed wheel."""
    try:
        root = resources.files("pymispwarninglists") / "data" / "misp-warninglists" / "lists"
    except ModuleNotFoundError as e:
        raise IntelError(
            "warning lists: the pymispwarninglists package is not installed "
            "(pip install pymispwarninglists, or --no-warninglists)"
        ) from e
    for folder, use in WARNINGLISTS.items():
        f = root / folder / "list.json"
        try:
            doc = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise IntelError(f"warning list {folder}: cannot read {f}: {e}") from e
        name = f"misp-warninglist:{folder}"
        into.lists.append(name)
        for raw in doc.get("list", ()):
            if not isinstance(raw, str):
                continue
            if use == "cidr":
                into.add_net(raw, name)
            elif use == "hash":
                into.exact.setdefault(norm_hex(raw), name)
            else:
                into.exact.setdefault(norm_domain(raw.lstrip(".")), name)
