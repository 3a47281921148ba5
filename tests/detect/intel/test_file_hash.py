"""intel.file_hash: from `fileinfo` records (hit, near miss, truncated file, folding, upload),
end to end on an Emotet download (tests/fixtures/correlate/ndpi-emotet.pcap) through the
pipeline and through `tocsin analyze --intel` (file hashing switched on by the indicators)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from correlate_kit import feed, names
from tocsin.cli.main import app
from tocsin.detect.correlate.config import CorrelateConfig, build_correlator
from tocsin.detect.intel import IntelSet, load_intel
from tocsin.detect.intel._model import Indicator
from tocsin.detect.intel.file_hash import IntelFileHash
from tocsin.model.fileinfo import FileInfo, FileinfoEvent
from tocsin.model.http import HttpInfo
from tocsin.model.ids import FlowId
from tocsin.output.timefmt import eve_timestamp
from tocsin.runtime.analyze import analyze
from tocsin.runtime.applayer import AppConfig
from tocsin.runtime.pipeline import PipelineConfig

ROOT = Path(__file__).parents[3]
EMOTET = ROOT / "tests" / "fixtures" / "correlate" / "ndpi-emotet.pcap"
EMOTET_SHA256 = "7d9789843f1fe63ad355311ebd8e2c5e48521c3dc642a7585066d580bdc84be2"
SHA = "ab" * 32
T0 = 1_700_000_000 * 1_000_000


def _ind(value: str, kind: str = "sha256") -> Indicator:
    return Indicator(
        value=value, kind=kind, source="malwarebazaar", threat="emotet", confidence=90,
        category="malware",
    )  # fmt: skip


def _file(sha256: str | None = SHA, state: str = "CLOSED", t: int = T0, **kw: Any) -> FileinfoEvent:
    info = FileInfo(
        filename="/dl/x.exe", gaps=False, state=state, md5=kw.get("md5"), sha1=None,
        sha256=sha256, stored=False, size=1234, tx_id=0,
    )  # fmt: skip
    src, dst = kw.get("src", "198.51.100.7"), kw.get("dst", "10.0.0.5")
    return FileinfoEvent(
        timestamp=eve_timestamp(t), flow_id=FlowId(9), src_ip=src, src_port=80, dest_ip=dst,
        dest_port=50000, proto="TCP", app_proto="http",
        http=HttpInfo(hostname="bad.example", url="/dl/x.exe?a=1"), fileinfo=info,
    )  # fmt: skip


def test_listed_sha256_alerts_on_the_downloader() -> None:
    det = IntelFileHash(intel=IntelSet([_ind(SHA)]))
    [a] = feed(det, [_file()])
    assert names([a]) == ["intel.file_hash"] and a.alert.signature_id == 8_100_006
    assert a.alert.signature == "TOCSIN INTEL file SHA-256 listed by malwarebazaar (emotet)"
    assert (a.src_ip, a.dest_ip) == ("10.0.0.5", "198.51.100.7")  # the downloader first
    ev = a.alert.context["evidence"]
    assert (ev["indicator"], ev["hash_type"], ev["field"]) == (SHA, "sha256", "fileinfo.sha256")
    assert (ev["file_name"], ev["file_size"], ev["transfer"]) == ("/dl/x.exe", 1234, "download")
    assert ev["url"] == "bad.example/dl/x.exe?a=1" and ev["sender"] == "198.51.100.7"
    assert (ev["source"], ev["threat"], ev["confidence"], ev["tlp"]) == (
        "malwarebazaar",
        "emotet",
        90,
        "clear",
    )
    assert a.alert.metadata["mitre_technique_id"] == ["T1105"]


def test_near_misses_another_hash_a_truncated_file_another_type() -> None:
    det = IntelFileHash(intel=IntelSet([_ind(SHA), _ind("cd" * 16, "md5")]))
    items = [
        _file("ab" * 31 + "ac"),  # one nibble off
        _file(SHA, state="TRUNCATED"),  # Suricata's partial sha256 of a truncated file
        _file(None, md5="cd" * 20),  # a value of the wrong length for an MD5
        _file("cd" * 16 + "00" * 16),  # an MD5 value inside a SHA-256: not the same type
    ]
    assert feed(det, items) == []


def test_same_file_again_folds_and_an_upload_names_the_uploader() -> None:
    det = IntelFileHash(intel=IntelSet([_ind(SHA)]))
    alerts = feed(det, [_file(), _file(t=T0 + 5_000_000)])
    assert len(alerts) == 1
    up = _file(src="10.0.0.9", dst="203.0.113.4")  # an internal host sends the file out
    [a] = feed(IntelFileHash(intel=IntelSet([_ind(SHA)])), [up])
    ev = a.alert.context["evidence"]
    assert a.src_ip == "10.0.0.9" and ev["transfer"] == "upload"


def test_emotet_download_end_to_end(tmp_path: Path) -> None:
    def run(value: str) -> list[dict[str, Any]]:
        ioc = tmp_path / "hashes.txt"
        ioc.write_text(f"# test list\n{value}\n")
        intel = load_intel([ioc], use_warninglists=False)
        eve = tmp_path / "eve.json"
        config = PipelineConfig(writer_thread=False, app=AppConfig(file_hashes=True))
        corr = build_correlator(CorrelateConfig(enable=("intel.file_hash",)), intel=intel)
        analyze([EMOTET], eve, config, correlate=corr)
        return [json.loads(line) for line in eve.read_text().splitlines()]

    events = run(EMOTET_SHA256)
    files = [e for e in events if e["event_type"] == "fileinfo"]
    assert [f["fileinfo"]["state"] for f in files] == ["CLOSED", "TRUNCATED", "TRUNCATED"]
    assert files[0]["fileinfo"]["sha256"] == EMOTET_SHA256  # as tshark --export-objects
    assert files[0]["dest_ip"] == "10.3.29.101" and files[0]["http"]["hostname"] == "fkl.co.ke"
    alerts = [e for e in events if e["event_type"] == "alert"]
    assert [a["alert"]["metadata"]["detector"] for a in alerts] == [["intel.file_hash"]]
    assert alerts[0]["alert"]["source"]["ip"] == "10.3.29.101"
    near = run(EMOTET_SHA256[:-1] + "f")
    assert not [e for e in near if e["event_type"] == "alert"]


def test_cli_turns_file_hashing_on_for_hash_indicators(tmp_path: Path) -> None:
    ioc = tmp_path / "hashes.txt"
    ioc.write_text(EMOTET_SHA256 + "\n")
    eve = tmp_path / "eve.json"
    args = ["analyze", str(EMOTET), "--eve", str(eve), "--intel", str(ioc), "--no-warninglists"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "file hashing enabled: 1 file-hash indicators were loaded" in res.output
    events = [json.loads(line) for line in eve.read_text().splitlines()]
    assert sum(e["event_type"] == "alert" for e in events) == 1
    plain = tmp_path / "plain.json"  # no hash indicators, no --file-hashes: no fileinfo
    res = CliRunner().invoke(app, ["analyze", str(EMOTET), "--eve", str(plain), "-q"])
    assert res.exit_code == 0 and '"fileinfo"' not in plain.read_text()
    res = CliRunner().invoke(app, ["analyze", str(EMOTET), "--eve", str(plain), "--file-hashes"])
    assert res.exit_code == 0 and plain.read_text().count('"event_type":"fileinfo"') == 3
