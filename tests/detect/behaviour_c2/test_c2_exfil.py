"""behaviour.exfil: a large upload to a new external destination, against the host's baseline."""

from __future__ import annotations

from c2kit import T0, S

from correlate_kit import feed, flows, names
from tocsin.detect.behaviour.exfil import Exfil, ExfilConfig
from tocsin.model.flows import STATE_CLOSED, FlowRow

MB = 1_000_000
H = 3600 * S


def _up(t: int, sent: int, *, dst: str = "198.51.100.7", got: int = 10_000,
        src: str = "10.0.0.5", fid: int = 1) -> FlowRow:  # fmt: skip
    return FlowRow(src, dst, 40000 + fid, 443, first_ts=t, last_ts=t + 60 * S, pkts_ts=100,
                   pkts_tc=100, bytes_ts=sent, bytes_tc=got, state=STATE_CLOSED,
                   app_proto="tls", flow_id=fid)  # fmt: skip


def test_large_upload_to_a_new_destination_alerts() -> None:
    rows = [_up(T0 + k * 60 * S, 30 * MB, fid=k) for k in range(5)]  # 150 MB in 5 flows
    alerts = feed(Exfil(), [flows(*rows)])
    assert names(alerts) == ["behaviour.exfil"]
    a = alerts[0]
    assert (a.src_ip, a.dest_ip) == (
        "10.0.0.5",
        "198.51.100.7",
    ) and a.alert.signature_id == 8_000_130
    ev = a.alert.context["evidence"]  # type: ignore[index]
    assert ev["bytes_sent"] == 120 * MB and ev["baseline_bytes_per_window"] == 0
    assert ev["destination_first_seen"].startswith("2023-11-14T22:13:20")


def test_download_internal_backup_and_small_uploads_are_quiet() -> None:
    download = [_up(T0, 10_000, got=2000 * MB)]
    backup = [_up(T0 + k * S, 500 * MB, dst="10.0.9.9", fid=10 + k) for k in range(3)]
    small = [_up(T0 + k * S, 5 * MB, dst=f"192.0.2.{k}", fid=20 + k) for k in range(1, 50)]
    inbound = [FlowRow("198.51.100.9", "10.0.0.80", 50000, 443, first_ts=T0, last_ts=T0 + S,
                       bytes_ts=1000, bytes_tc=900 * MB, state=STATE_CLOSED)]  # fmt: skip
    assert feed(Exfil(), [flows(*download, *backup, *small, *inbound)]) == []


def test_known_destination_and_high_baseline_are_quiet() -> None:
    known = [_up(T0, 1 * MB, fid=1), _up(T0 + 2 * H, 300 * MB, fid=2)]  # seen an hour before
    assert feed(Exfil(), [flows(*known)]) == []
    busy = [_up(T0 + k * H, 400 * MB, dst=f"192.0.2.{k}", fid=k) for k in range(6)]
    cfg = ExfilConfig(min_bytes=100 * MB, factor=10.0)
    alerts = feed(Exfil(cfg), [flows(*busy)])  # a host that uploads 400 MB every hour
    assert len(alerts) == 1  # the first hour only: no baseline yet
    spike = [*busy, _up(T0 + 7 * H, 450 * MB, dst="203.0.113.77", fid=99)]
    assert len(feed(Exfil(cfg), [flows(*spike)])) == 1


def test_state_is_bounded() -> None:
    det = Exfil(ExfilConfig(max_hosts=3, max_history=4))
    rows = [_up(T0 + k * S, 1000, src=f"10.0.1.{k}", fid=k) for k in range(1, 10)]
    feed(det, [flows(*rows)])
    assert det.counters()["tracked"] == 3 and det.counters()["evicted"] >= 11
