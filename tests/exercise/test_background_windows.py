"""The Windows domain background (`background/windows.py`), as a drill organiser relies on it:
captures of the Windows activities alone, for the clinic and the CHU, replayed through
Tocsin (`exercise.run.replay`) give the Kerberos, SMB and DCERPC events a hospital's domain
gives — logons, Group Policy, documents opened, edited and saved, shares listed, a typo now
and then — the night backup at night only and reading only, and not one false alert, the
night included.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tocsin.exercise import generate as gen
from tocsin.exercise.background import ACTIVITIES
from tocsin.exercise.proto.windows import owner_file
from tocsin.exercise.run import replay
from tocsin.exercise.site import Site, build_site
from tocsin.exercise.truth import read_truth
from tocsin.exercise.world import PARIS, World

BACKUP_IP = "10.20.20.90"


@dataclass
class Run:
    pcap: Path
    site: Site
    events: list[dict[str, Any]]
    false_alerts: int
    false_by_rule: dict[str, int]

    def of(self, kind: str) -> Iterator[dict[str, Any]]:
        return (e for e in self.events if e["event_type"] == kind)


def _windows_only(tmp: Path, name: str, profile: str, start: str, hours: float) -> Run:
    out = tmp / f"{name}.pcap"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(gen, "ACTIVITIES", [a for a in ACTIVITIES if a[0].startswith("windows.")])
        gen.generate(out, profile=profile, scenarios=[], hours=hours, seed=5,
                     start=World.parse_start(start))  # fmt: skip
    eve = tmp / f"{name}.eve.json"
    r = replay(out, read_truth(out.with_name(f"{name}.truth.json")), eve)
    events = [json.loads(line) for line in eve.read_bytes().splitlines()]
    site = build_site(profile, random.Random(5))  # as `generate` draws it first
    return Run(out, site, events, r.sheet.false_alerts, dict(r.sheet.false_by_rule))


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    tmp = tmp_path_factory.mktemp("windows")
    return {
        "clinic_night": _windows_only(tmp, "clinic_night", "clinic", "2024-03-12T00:30", 2.0),
        "clinic_morning": _windows_only(tmp, "clinic_morning", "clinic", "2024-03-12T06:40", 1.0),
        "chu_afternoon": _windows_only(tmp, "chu_afternoon", "chu", "2024-03-12T13:30", 1.0),
    }


def _smb(run: Run, command: str) -> list[dict[str, Any]]:
    return [e for e in run.of("smb") if e["smb"].get("command") == f"SMB2_COMMAND_{command}"]


@pytest.mark.parametrize("name", ["clinic_night", "clinic_morning", "chu_afternoon"])
def test_no_false_alert(runs: dict[str, Run], name: str) -> None:
    assert runs[name].false_alerts == 0, runs[name].false_by_rule


@pytest.mark.parametrize("name", ["clinic_morning", "chu_afternoon"])
def test_logons_ask_the_dc_for_tickets_and_read_group_policy(
    runs: dict[str, Run], name: str
) -> None:
    run = runs[name]
    msgs = Counter((k["krb5"]["msg_type"], k["krb5"].get("error_code")) for k in run.of("krb5"))
    assert msgs[("KRB_ERROR", "KDC_ERR_PREAUTH_REQUIRED")] > 0
    assert msgs[("KRB_AS_REP", None)] > 0 and msgs[("KRB_TGS_REP", None)] > 0
    dcs = {h.ip for h in run.site.role("dc")}
    assert {k["src_ip"] for k in run.of("krb5") if k["krb5"]["msg_type"] == "KRB_AS_REP"} <= dcs
    sysvol = [e for e in _smb(run, "TREE_CONNECT") if e["smb"].get("share", "").endswith("SYSVOL")]
    assert sysvol and {e["dest_ip"] for e in sysvol} <= dcs
    gpt = [e for e in _smb(run, "CREATE") if e["smb"].get("filename", "").endswith("gpt.ini")]
    assert len(gpt) > len(sysvol)  # several GPOs per refresh
    setups = [e["smb"] for e in _smb(run, "SESSION_SETUP") if e["src_ip"] != BACKUP_IP]
    assert setups and all("kerberos" in s for s in setups)  # domain members use Kerberos


def test_users_open_edit_and_save_documents_and_list_shares(runs: dict[str, Run]) -> None:
    run = runs["chu_afternoon"]
    shares = Counter(
        e["smb"].get("share", "").rsplit("\\", 1)[-1] for e in _smb(run, "TREE_CONNECT")
    )
    assert shares["Services"] and shares["Soins"] and shares["Homes$"] and shares["Direction"]
    assert len(_smb(run, "FIND")) > 100  # folders listed
    created = [e["smb"].get("filename", "") for e in _smb(run, "CREATE")]
    owners = [n for n in created if n.rsplit("\\", 1)[-1].startswith("~$")]
    assert owners  # Office owner files...
    deleted = {
        e["smb"]["filename"] for e in _smb(run, "CREATE") if e["smb"]["access"] == "delete on close"
    }
    assert set(owners) <= deleted  # ...removed when the document is closed
    renames = [e["smb"]["rename"] for e in _smb(run, "SET_INFO") if "rename" in e["smb"]]
    assert any(r["to"].endswith((".docx", ".xlsx")) for r in renames)  # saves
    assert _smb(run, "WRITE")
    calls = [e["smb"]["dcerpc"] for e in run.of("smb") if "dcerpc" in e["smb"]]
    procs = {i.get("procedure") for c in calls for i in c.get("interfaces", [])}
    assert "NetrShareEnum" in procs


def test_typos_are_single_and_the_user_gets_in(runs: dict[str, Run]) -> None:
    """A mistyped password (PREAUTH_FAILED) is retyped: at most two failures in a row on a
    workstation, and its next AS exchange gets the TGT."""
    outcomes: dict[str, str] = defaultdict(str)  # client -> "F" failure, "S" TGT, in order
    for k in sorted(runs["chu_afternoon"].of("krb5"), key=lambda e: e["timestamp"]):
        body = k["krb5"]
        if body.get("error_code") == "KDC_ERR_PREAUTH_FAILED":
            outcomes[k["dest_ip"]] += "F"
        elif body["msg_type"] == "KRB_AS_REP":
            outcomes[k["dest_ip"]] += "S"
    seqs = list(outcomes.values())
    assert any("F" in q for q in seqs)
    assert not any("FFF" in q for q in seqs)
    assert all(q.endswith("S") for q in seqs)


def test_the_backup_reads_the_file_servers_at_night_only(runs: dict[str, Run]) -> None:
    night = runs["clinic_night"]
    flows = [e for e in night.of("flow") if e["src_ip"] == BACKUP_IP]
    assert len(flows) > 10
    for f in flows:
        local = datetime.fromisoformat(f["flow"]["start"]).astimezone(PARIS)
        assert 1 <= local.hour < 4 and f["dest_port"] == 445
    read = sum(f["flow"]["bytes_toclient"] for f in flows)
    assert read > 50e6 and read > 20 * sum(f["flow"]["bytes_toserver"] for f in flows)
    backup = [e["smb"] for e in night.of("smb") if e["src_ip"] == BACKUP_IP]
    users = {s["ntlmssp"]["user"] for s in backup if "ntlmssp" in s}
    assert users == {"svc-backup"}
    assert not [s for s in backup if s["command"].endswith(("WRITE", "SET_INFO"))]
    assert all(s.get("access") != "delete on close" for s in backup)
    assert len([s for s in backup if s["command"].endswith("READ")]) > 100
    for name in ("clinic_morning", "chu_afternoon"):
        assert not [e for e in runs[name].of("flow") if e["src_ip"] == BACKUP_IP]


@pytest.mark.parametrize("name", ["clinic_night", "chu_afternoon"])
def test_tshark_finds_no_malformed_packet_nor_any_warning(runs: dict[str, Run], name: str) -> None:
    """Directory listings, Office saves, srvsvc, Kerberos: valid to Wireshark's dissectors,
    checksums included, without even an expert warning."""
    if shutil.which("tshark") is None:
        pytest.skip("tshark is not installed (apt install tshark)")
    bad = subprocess.run(
        ["tshark", "-n", "-r", str(runs[name].pcap), "-o", "tcp.check_checksum:TRUE",
         "-o", "ip.check_checksum:TRUE", "-Y", "_ws.malformed || _ws.expert.severity >= warning"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert bad.returncode == 0, bad.stderr
    assert bad.stdout.strip() == "", bad.stdout[:2000]


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    pcaps = []
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
        out = tmp_path / d / "x.pcap"
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(gen, "ACTIVITIES", [a for a in ACTIVITIES if a[0].startswith("windows.")])
            gen.generate(out, profile="clinic", scenarios=[], hours=0.25, seed=3,
                         start=World.parse_start("2024-03-12T01:50"))  # fmt: skip
        pcaps.append(out.read_bytes())
    assert pcaps[0] == pcaps[1] and len(pcaps[0]) > 1_000_000


def test_office_owner_file_names() -> None:
    assert owner_file("protocole-transfusion.docx") == "~$otocole-transfusion.docx"
    assert owner_file("CR.docx") == "~$CR.docx"
