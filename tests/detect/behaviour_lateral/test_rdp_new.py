"""behaviour.rdp_new_client: learning period in packet time, then new clients only."""

from __future__ import annotations

from pathlib import Path

from lateral_records import S, rdp

from correlate_kit import analyze_alerts, feed, names
from tocsin.detect.behaviour.rdp_new import RdpNewClient, RdpNewClientConfig

HOUR = 3600 * S


def test_new_client_after_learning_alerts_once() -> None:
    items = [rdp(0, "10.1.0.5"), rdp(2 * HOUR, "10.1.0.6")]  # learnt
    items += [rdp(25 * HOUR, "10.1.0.5"), rdp(26 * HOUR, "10.1.0.66", cookie="svc_backup")]
    items += [rdp(27 * HOUR, "10.1.0.66")]
    alerts = feed(RdpNewClient(), items)
    assert names(alerts) == ["behaviour.rdp_new_client"]
    a = alerts[0]
    assert a.src_ip == "10.1.0.66" and a.alert.signature_id == 8_000_306
    ev = a.alert.context["evidence"]  # type: ignore[index]
    assert ev["clients_in_history"] == 2 and ev["cookie"] == "svc_backup"
    assert ev["server_seen_before"] is True
    assert a.alert.metadata["confidence"] == ["low"]  # type: ignore[index]


def test_learning_period_and_known_clients_give_nothing() -> None:
    """A short capture (< 24 h) full of RDP users: no alert at all (no flood at start)."""
    items = [rdp(i * 60 * S, f"10.1.0.{i}") for i in range(1, 100)]
    assert feed(RdpNewClient(), items) == []
    cfg = RdpNewClientConfig(learn_s=0, known_clients=("10.1.0.0/24",))
    assert feed(RdpNewClient(cfg), items) == []


def test_new_client_to_new_server_is_medium() -> None:
    cfg = RdpNewClientConfig(learn_s=60)
    alerts = feed(RdpNewClient(cfg), [rdp(0, "10.1.0.5"), rdp(120 * S, "10.1.0.7", "10.2.0.9")])
    assert alerts[0].alert.metadata["confidence"] == ["medium"]  # type: ignore[index]


def test_rdp_capture_learning_zero_end_to_end(tmp_path: Path) -> None:
    from tocsin.detect.correlate.config import CorrelateConfig

    pcap = Path(__file__).parents[3] / "tests" / "fixtures" / "correlate" / "rdp-x509.pcap"
    cfg = CorrelateConfig(detectors={"behaviour.rdp_new_client": {"learn_s": 0}})
    alerts = analyze_alerts([pcap], tmp_path, only=["behaviour.rdp_new_client"], config=cfg)
    assert names(alerts) == ["behaviour.rdp_new_client"]
    assert alerts[0]["alert"]["context"]["evidence"]["cookie"] == "JOHN-PC"
    none = analyze_alerts([pcap], tmp_path, only=["behaviour.rdp_new_client"], eve_name="b.json")
    assert none == []
