"""behaviour.beacon (and the other C2/exfiltration detectors) on the bigger corpus captures.

Slips' test-cc-capture-1 (2 MB: curl https://testing.com every 2 s for 665 s, from
147.32.80.37, a public CTU address, so HOME_NET is set to 147.32.0.0/16) must give one
beacon; malware and bot captures without a beacon, DNS tunnel, DGA, exfiltration or ICMP
tunnel must give none of those alerts (false-positive check). The corpus is found through
TOCSIN_CORPUS (default `<repo>/../shared/corpus`); without it the module is skipped.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from correlate_kit import analyze_alerts, names
from tocsin.detect.correlate.config import CorrelateConfig

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(os.environ.get("TOCSIN_CORPUS", ROOT.parent / "shared" / "corpus")).resolve()
if not (CORPUS / "pcaps").is_dir():
    pytest.skip(f"corpus not found at {CORPUS}: set TOCSIN_CORPUS", allow_module_level=True)

pytestmark = pytest.mark.corpus

C2 = ["behaviour.beacon", "behaviour.dns_tunnel", "behaviour.dga", "behaviour.exfil",
      "behaviour.icmp_tunnel"]  # fmt: skip


def test_slips_test_cc_capture_1(tmp_path: Path) -> None:
    cap = CORPUS / "pcaps/slips/dataset/test-cc/test-cc-capture-1.pcap"
    cfg = CorrelateConfig(home_net=("147.32.0.0/16",))
    alerts = analyze_alerts([cap], tmp_path, only=["behaviour.beacon"], config=cfg)
    assert names(alerts) == ["behaviour.beacon"]
    ev = alerts[0]["alert"]["context"]["evidence"]
    assert ev["server_name"] == "testing.com" and ev["interval_median_s"] == 2.0


@pytest.mark.parametrize(
    "rel",
    [
        "pcaps/ndpi/pcap/emotet.pcap",
        "pcaps/ndpi/pcap/trickbot.pcap",
        "pcaps/ndpi/pcap/bot.pcap",
        "pcaps/ndpi/pcap/malware.pcap",
        "pcaps/ndpi/pcap/tls_esni_sni_both.pcap",
        "pcaps/slips/dataset/test7-malicious.pcap",
        "pcaps/slips/dataset/test8-malicious.pcap",
    ],
)
def test_no_c2_alerts_on_unrelated_captures(rel: str, tmp_path: Path) -> None:
    cap = CORPUS / rel
    if not cap.exists():
        pytest.skip(f"{rel} not in this corpus")
    assert analyze_alerts([cap], tmp_path, only=C2) == []
