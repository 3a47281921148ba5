"""Intel over the shared corpus: every maltrail and abuse.ch file loads (>= 150,000
indicators, bad lines counted, no error), and ndpi's emotet capture raises intel alerts.

Finds the corpus through TOCSIN_CORPUS (default `<repo>/../shared/corpus`); skipped without it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from correlate_kit import analyze_alerts
from tocsin.detect.correlate.config import CorrelateConfig
from tocsin.detect.intel import load_intel

ROOT = Path(__file__).parents[2]
CORPUS = Path(os.environ.get("TOCSIN_CORPUS", ROOT.parent / "shared" / "corpus")).resolve()
if not (CORPUS / "rules" / "maltrail").is_dir():
    pytest.skip(f"corpus not found at {CORPUS}: set TOCSIN_CORPUS", allow_module_level=True)

pytestmark = pytest.mark.corpus
FEEDS = (str(CORPUS / "rules" / "maltrail"), str(CORPUS / "rules" / "abuse.ch"))


def test_every_trail_and_abuse_ch_file_loads() -> None:
    s = load_intel(FEEDS)
    assert len(s) >= 150_000
    assert s.stats.skipped < 500  # malformed trails (`ip:port:port`, truncated lines)
    assert s.count("ja3") > 50 and s.count("url") > 10_000 and s.count("cidr") > 1_000
    assert s.stats.allowlisted > 0  # e.g. Microsoft domains listed as C2 fronting


def test_emotet_capture_raises_intel_alerts(tmp_path: Path) -> None:
    pcap = CORPUS / "pcaps" / "ndpi" / "pcap" / "emotet.pcap"
    if not pcap.is_file():
        pytest.skip(f"{pcap} not in this corpus")
    cfg = CorrelateConfig(intel=FEEDS, enable=("intel",))
    alerts = analyze_alerts([pcap], tmp_path, config=cfg)
    sigs = {a["alert"]["signature"] for a in alerts}
    assert "TOCSIN INTEL URL listed by maltrail (emotet)" in sigs
    assert "TOCSIN INTEL JA3 listed by abuse.ch (Dridex)" in sigs
