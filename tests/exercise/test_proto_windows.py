"""Exercise-mode builders of the Windows domain: SMB2 (`smb2`, `smb2msg`), NTLMSSP (`ntlm`),
DCERPC over named pipes (`dcerpc`), Kerberos (`kerberos`) and the workloads (`windows`).

Seven captures are written with the exercise `Trace` (a normal logon and file read, PsExec,
a remote scheduled task, ransomware on a share, SMB and Kerberos password guessing,
Kerberoasting) and judged twice: Tocsin's whole pipeline (`tocsin analyze` through
`runtime.analyze`) must give the expected `smb` / `krb5` events and detector alerts, and
tshark must find no malformed packet and no expert warning or error in any of them. Unit
tests check bytes against Tocsin's own NTLMSSP and Kerberos decoders, and determinism.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tocsin.detect.correlate.config import CorrelateConfig, build_correlator
from tocsin.exercise.proto import dcerpc, kerberos, windows
from tocsin.exercise.proto.smb2 import Smb2Session
from tocsin.exercise.wire.hosts import EphemeralPorts, Host
from tocsin.exercise.wire.trace import Trace
from tocsin.runtime.analyze import analyze
from tocsin.runtime.pipeline import PipelineConfig

NOW = 1_710_495_012.0  # 2024-03-15 09:30:12 UTC
REALM = "CHU.LOCAL"
WS = Host.make("PC-SOINS-12", "10.20.1.57", ttl=128)
ATTACKER = Host.make("PC-ACCUEIL-03", "10.20.4.31", ttl=128)
DC = Host.make("DC01", "10.10.0.10", ttl=128)
FS = Host.make("FS01", "10.10.0.20", ttl=128)
SRV = Host.make("SRV-PACS", "10.10.0.30", ttl=128)


def session(rng: random.Random, client: Host, server: Host, **kw: Any) -> Smb2Session:
    kw.setdefault("user", "jdupont")
    return Smb2Session(rng, client=client.name, server=server.name, domain="CHU", now=NOW, **kw)


# -- captures ---------------------------------------------------------------------------------


def logon_and_read(tr: Trace, rng: random.Random, ports: EphemeralPorts) -> None:
    """(1) Kerberos logon, then the file server over SMB/Kerberos: a share listing, a GPO
    refresh on the DC and three documents read."""
    t = NOW
    services = (("cifs", "dc01.chu.local"), ("cifs", "fs01.chu.local"))
    for conv in kerberos.logon(rng, user="jdupont", realm=REALM, host=WS.name, now=t,
                               services=services):  # fmt: skip
        t = tr.tcp(t + 0.01, WS, ports.take(WS), DC, 88, conv) + 0.001
    s = session(rng, WS, DC, signing_required=True)
    s.negotiate()
    s.session_setup_kerberos()
    windows.gpo_refresh(s, dc="DC01", gpos=["{31B2F340-016D-11D2-945F-00C04FB984F9}"])
    s.logoff()
    t = tr.tcp(t + 0.05, WS, ports.take(WS), DC, 445, s.turns())
    s = session(rng, WS, FS)
    s.negotiate()
    s.session_setup_kerberos()
    ipc = s.tree_connect("\\\\FS01\\IPC$")
    assert ipc is not None
    shares = [("IPC$", dcerpc.SHARE_IPC, "IPC distant"), ("Soins", dcerpc.SHARE_DISK, "")]
    dcerpc.share_enum(s, ipc, rng, server="FS01", shares=shares)
    tree = s.tree_connect("\\\\FS01\\Soins")
    assert tree is not None
    docs = [("Planning\\planning-mars.xlsx", 48_213), ("Protocoles\\hygiene.pdf", 1_342_771),
            ("Protocoles\\transfusion.docx", 95_012)]  # fmt: skip
    windows.read_documents(s, tree, docs)
    s.tree_disconnect(tree)
    s.tree_disconnect(ipc)
    s.logoff()
    tr.tcp(t + 0.2, WS, ports.take(WS), FS, 445, s.turns())


def psexec(tr: Trace, rng: random.Random, ports: EphemeralPorts) -> None:
    """(2) PsExec by address with an administrator's NTLM credentials."""
    s = session(rng, ATTACKER, SRV, user="adm-info", target=SRV.ip)
    s.negotiate()
    s.session_setup()
    windows.psexec(s, target=SRV.ip)
    s.logoff()
    tr.tcp(NOW, ATTACKER, ports.take(ATTACKER), SRV, 445, s.turns(), close="rst")


def remote_task(tr: Trace, rng: random.Random, ports: EphemeralPorts) -> None:
    """(3) The service manager refusing access, then a remote scheduled task (atexec) over
    \\PIPE\\atsvc."""
    s = session(rng, ATTACKER, SRV, user="adm-info", target=SRV.ip)
    s.negotiate()
    s.session_setup()
    ipc = s.tree_connect(f"\\\\{SRV.ip}\\IPC$")
    assert ipc is not None
    scm = dcerpc.RpcPipe(s, ipc, dcerpc.SVCCTL, rng)  # first try: the service manager refuses
    scm.open()
    scm.call(15, dcerpc.open_sc_manager(f"\\\\{SRV.ip}", bytes(20)),
             fault_status=dcerpc.NCA_S_ACCESS_DENIED)  # fmt: skip
    scm.close()
    dcerpc.remote_task(s, ipc, rng, name="qXbTzKfa", command="cmd.exe",
                       arguments="/C whoami > %windir%\\Temp\\qXbTzKfa.tmp 2>&1")  # fmt: skip
    s.tree_disconnect(ipc)
    s.logoff()
    tr.tcp(NOW, ATTACKER, ports.take(ATTACKER), SRV, 445, s.turns())


def ransomware(tr: Trace, rng: random.Random, ports: EphemeralPorts) -> None:
    """(4) 200 files of 20 folders encrypted and renamed .lockbit, a note in each folder."""
    s = session(rng, WS, FS)
    s.negotiate()
    s.session_setup()
    tree = s.tree_connect("\\\\FS01\\Soins")
    assert tree is not None
    files = [(f"Service{d:02d}\\doc{k:03d}.docx", rng.randrange(2_000, 24_000))
             for d in range(20) for k in range(10)]  # fmt: skip
    windows.encrypt_files(s, tree, files)
    tr.tcp(NOW, WS, ports.take(WS), FS, 445, s.turns())


def smb_guessing(tr: Trace, rng: random.Random, ports: EphemeralPorts) -> None:
    """(5) 30 NTLM logons of one account refused, 3 per connection."""
    convs = windows.smb_password_guessing(rng, client=ATTACKER.name, server=FS.name,
                                          domain="CHU", users=["administrateur"], attempts=30,
                                          now=NOW, per_connection=3)  # fmt: skip
    t = NOW
    for conv in convs:
        t = tr.tcp(t + 0.05, ATTACKER, ports.take(ATTACKER), FS, 445, conv, close="rst")


def kerberos_guessing(tr: Trace, rng: random.Random, ports: EphemeralPorts) -> None:
    """(6) 25 logons of one account with a wrong password (PREAUTH_FAILED)."""
    t = NOW
    for _ in range(25):
        for conv in kerberos.logon(rng, user="mmartin", realm=REALM, host=ATTACKER.name,
                                   now=t, password_ok=False):  # fmt: skip
            t = tr.tcp(t + 0.2, ATTACKER, ports.take(ATTACKER), DC, 88, conv)


def kerberoast(tr: Trace, rng: random.Random, ports: EphemeralPorts) -> None:
    """(7) User enumeration over UDP (8 names, 3 real), then Kerberoasting: RC4 service
    tickets for 10 service principals."""
    names = ("jdupont", "admin", "mmartin", "test", "backup", "svc-sql", "guest", "scanner")
    t = NOW
    for conv in kerberos.user_enum(rng, users=names, known=frozenset(names[::3]), realm=REALM,
                                   host=ATTACKER.name, now=t):  # fmt: skip
        t = tr.udp_exchange(t + 0.01, ATTACKER, ports.take(ATTACKER), DC, 88, conv)
    spns = (
        *(("MSSQLSvc", f"sql{k:02d}.chu.local:1433") for k in range(6)),
        ("HTTP", "intranet.chu.local"), ("HTTP", "dpi.chu.local"),
        ("MSSQLSvc", "pacs-db.chu.local:1433"), ("exchangeMDB", "mail.chu.local"),
    )  # fmt: skip
    for conv in kerberos.kerberoast(rng, user="jdupont", realm=REALM, spns=spns):
        t = tr.tcp(t + 0.05, ATTACKER, ports.take(ATTACKER), DC, 88, conv)


Build = Callable[[Trace, random.Random, EphemeralPorts], None]
CAPTURES: dict[str, Build] = {
    "logon": logon_and_read,
    "psexec": psexec,
    "task": remote_task,
    "ransomware": ransomware,
    "smb_guessing": smb_guessing,
    "krb_guessing": kerberos_guessing,
    "kerberoast": kerberoast,
}


def write_capture(build: Build, path: Path, seed: int = 7) -> int:
    rng = random.Random(seed)
    tr = Trace(seed=seed)
    build(tr, rng, EphemeralPorts(rng))
    return tr.write(str(path))


@dataclass
class Result:
    events: list[dict[str, Any]]
    alerts: list[dict[str, Any]]

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e[kind] for e in self.events if e["event_type"] == kind]

    def detectors(self) -> Counter[tuple[str, int]]:
        return Counter(
            (a["alert"]["metadata"]["detector"][0], a["alert"]["signature_id"]) for a in self.alerts
        )


@pytest.fixture(scope="module")
def captures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("windows")
    out = {}
    for name, build in CAPTURES.items():
        out[name] = d / f"{name}.pcap"
        write_capture(build, out[name])
    return out


@pytest.fixture(scope="module")
def analyzed(captures: dict[str, Path]) -> dict[str, Result]:
    out = {}
    for name, path in captures.items():
        eve = path.with_suffix(".json")
        analyze([str(path)], eve, PipelineConfig(writer_thread=False),
                correlate=build_correlator(CorrelateConfig()))  # fmt: skip
        events = [json.loads(line) for line in eve.read_text().splitlines()]
        alerts = [e for e in events if e["event_type"] == "alert" and e["alert"]["gid"] == 8]
        out[name] = Result(events, alerts)
    return out


# -- the pipeline's judgement ---------------------------------------------------------------


def test_every_capture_reassembles_and_parses_cleanly(analyzed: dict[str, Result]) -> None:
    for name, r in analyzed.items():
        stats = next(e["stats"] for e in r.events if e["event_type"] == "stats")
        assert stats["tcp"]["reassembly_gap"] == 0, name
        assert "error" not in stats["app_layer"], (name, stats["app_layer"])
        assert not [e for e in r.events if e["event_type"] == "anomaly"], name


def test_normal_logon_and_file_read(analyzed: dict[str, Result]) -> None:
    r = analyzed["logon"]
    krb = [(k["msg_type"], k.get("error_code"), k["sname"]) for k in r.of("krb5")]
    assert krb == [
        ("KRB_AS_REQ", None, "krbtgt/CHU.LOCAL"),
        ("KRB_ERROR", "KDC_ERR_PREAUTH_REQUIRED", "krbtgt/CHU.LOCAL"),
        ("KRB_AS_REQ", None, "krbtgt/CHU.LOCAL"),
        ("KRB_AS_REP", None, "krbtgt/CHU.LOCAL"),
        ("KRB_TGS_REQ", None, "cifs/dc01.chu.local"),
        ("KRB_TGS_REP", None, "cifs/dc01.chu.local"),
        ("KRB_TGS_REQ", None, "cifs/fs01.chu.local"),
        ("KRB_TGS_REP", None, "cifs/fs01.chu.local"),
    ]
    assert {k["cname"] for k in r.of("krb5") if k["msg_type"] != "KRB_ERROR"} >= {"jdupont"}
    assert all(not k["ticket_weak_encryption"] for k in r.of("krb5") if "ticket_encryption" in k)
    smb = r.of("smb")
    assert {s["dialect"] for s in smb} == {"3.11"}  # as Suricata writes 3.1.1
    setups = [s for s in smb if s["command"] == "SMB2_COMMAND_SESSION_SETUP"]
    assert [s["kerberos"] for s in setups] == [
        {"realm": "CHU.LOCAL", "snames": ["cifs", "dc01.chu.local"]},
        {"realm": "CHU.LOCAL", "snames": ["cifs", "fs01.chu.local"]},
    ]
    assert all(s["status"] == "STATUS_SUCCESS" for s in setups)
    trees = [
        s.get("share") or s.get("named_pipe")
        for s in smb
        if s["command"] == "SMB2_COMMAND_TREE_CONNECT"
    ]
    assert trees == ["\\\\DC01\\SYSVOL", "\\\\FS01\\IPC$", "\\\\FS01\\Soins"]
    calls = [s["dcerpc"] for s in smb if s.get("dcerpc", {}).get("request") == "REQUEST"]
    assert [(c["interfaces"][0]["service"], c["interfaces"][0]["procedure"]) for c in calls] == [
        ("srvsvc", "NetrShareEnum")
    ]
    read = {f["filename"]: f["bytes_read"] for f in r.of("smb_file")}
    gpo = "chu.local\\Policies\\{31B2F340-016D-11D2-945F-00C04FB984F9}\\"
    assert 0 < read.pop(gpo + "gpt.ini") < 60
    assert 300 <= read.pop(gpo + "Machine\\Registry.pol") < 9000
    assert read == {
        "Planning\\planning-mars.xlsx": 48_213,
        "Protocoles\\hygiene.pdf": 1_342_771,
        "Protocoles\\transfusion.docx": 95_012,
    }
    assert r.alerts == []


def rpc_calls(r: Result) -> list[tuple[str, str, str]]:
    """(service, procedure, response) of the DCERPC requests seen over SMB pipes."""
    out = []
    for s in r.of("smb"):
        d = s.get("dcerpc")
        if d and d["request"] == "REQUEST":
            i = d["interfaces"][0]
            out.append((i["service"], i["procedure"], d["response"]))
    return out


def test_psexec_service_creation(analyzed: dict[str, Result]) -> None:
    r = analyzed["psexec"]
    smb = r.of("smb")
    auth = next(s for s in smb if s.get("ntlmssp"))
    assert auth["ntlmssp"] == {"domain": "CHU", "user": "adm-info", "host": "PC-ACCUEIL-03",
                               "version": "10.0 build 19041 rev 15"}  # fmt: skip
    assert auth["status"] == "STATUS_SUCCESS"
    trees = [s.get("share") or s.get("named_pipe") for s in smb
             if s["command"] == "SMB2_COMMAND_TREE_CONNECT"]  # fmt: skip
    assert trees == ["\\\\10.10.0.30\\ADMIN$", "\\\\10.10.0.30\\IPC$"]
    exe = next(f for f in r.of("smb_file") if f["filename"] == "PSEXESVC.exe" and f["writes"])
    assert exe["bytes_written"] == 383_288 and exe["share"].endswith("ADMIN$")
    assert any(s.get("filename") == "PSEXESVC.exe" and s.get("access") == "delete on close"
               for s in smb)  # fmt: skip
    assert [(p, resp) for svc, p, resp in rpc_calls(r) if svc == "svcctl"] == [
        ("OpenSCManagerW", "RESPONSE"), ("CreateServiceW", "RESPONSE"),
        ("StartServiceW", "RESPONSE"), ("CloseServiceHandle", "RESPONSE"),
        ("CloseServiceHandle", "RESPONSE"), ("OpenSCManagerW", "RESPONSE"),
        ("OpenServiceW", "RESPONSE"), ("ControlService", "RESPONSE"),
        ("DeleteService", "RESPONSE"), ("CloseServiceHandle", "RESPONSE"),
        ("CloseServiceHandle", "RESPONSE"),
    ]  # fmt: skip
    assert r.detectors() == Counter(
        {("behaviour.remote_service", 8_000_301): 1, ("behaviour.smb_admin_share", 8_000_300): 1}
    )
    svc = next(a for a in r.alerts if a["alert"]["signature_id"] == 8_000_301)
    assert svc["alert"]["signature"].startswith("TOCSIN BEHAVIOUR PsExec pattern")
    assert (svc["src_ip"], svc["dest_ip"]) == (ATTACKER.ip, SRV.ip)


def test_remote_scheduled_task(analyzed: dict[str, Result]) -> None:
    r = analyzed["task"]
    assert rpc_calls(r) == [
        ("svcctl", "OpenSCManagerW", "FAULT"),
        ("ITaskSchedulerService", "SchRpcRegisterTask", "RESPONSE"),
        ("ITaskSchedulerService", "SchRpcRun", "RESPONSE"),
        ("ITaskSchedulerService", "SchRpcDelete", "RESPONSE"),
    ]
    carriers = [s["command"] for s in r.of("smb") if s.get("dcerpc", {}).get("request")]
    assert carriers[:2] == ["SMB2_COMMAND_WRITE", "SMB2_COMMAND_IOCTL"]  # svcctl: Windows
    assert set(carriers[2:]) == {"SMB2_COMMAND_WRITE"}  # Impacket: WRITE then READ, no IOCTL
    pipe = [s for s in r.of("smb") if s["command"] == "SMB2_COMMAND_CREATE"][1]
    assert (pipe["filename"], pipe["disposition"]) == ("atsvc", "FILE_OPEN")
    assert r.detectors() == Counter({("behaviour.remote_task", 8_000_302): 1})


def test_ransomware_on_a_share(analyzed: dict[str, Result]) -> None:
    r = analyzed["ransomware"]
    smb = r.of("smb")
    renames = [s["rename"] for s in smb if s.get("rename")]
    assert len(renames) == 200
    assert all(x["to"] == x["from"] + ".lockbit" for x in renames)
    notes = {s["filename"] for s in smb if s.get("disposition") == "FILE_OVERWRITE_IF"}
    assert notes == {f"Service{d:02d}\\Restore-My-Files.txt" for d in range(20)}
    files = r.of("smb_file")
    docs = [f for f in files if f["filename"].endswith(".docx")]
    assert len(docs) == 200
    assert all(f["bytes_read"] == f["bytes_written"] == f["size"] > 0 for f in docs)
    assert r.detectors() == Counter({("behaviour.smb_ransomware", 8_000_310): 1,
                                     ("behaviour.smb_ransomware", 8_000_311): 1})  # fmt: skip
    mass = next(a for a in r.alerts if a["alert"]["signature_id"] == 8_000_310)
    assert mass["alert"]["metadata"]["confidence"] == ["high"]


def test_smb_password_guessing(analyzed: dict[str, Result]) -> None:
    r = analyzed["smb_guessing"]
    fails = [s for s in r.of("smb") if s["status"] == "STATUS_LOGON_FAILURE"]
    assert len(fails) == 30
    assert {s["ntlmssp"]["user"] for s in fails} == {"administrateur"}
    assert r.detectors() == Counter({("behaviour.brute_force", 8_000_204): 1})


def test_kerberos_password_guessing(analyzed: dict[str, Result]) -> None:
    r = analyzed["krb_guessing"]
    codes = Counter(k.get("error_code") for k in r.of("krb5") if k["msg_type"] == "KRB_ERROR")
    assert codes == {"KDC_ERR_PREAUTH_REQUIRED": 25, "KDC_ERR_PREAUTH_FAILED": 25}
    assert r.detectors() == Counter({("behaviour.brute_force", 8_000_206): 1})


def test_kerberoasting(analyzed: dict[str, Result]) -> None:
    r = analyzed["kerberoast"]
    udp = [e["krb5"] for e in r.events if e["event_type"] == "krb5" and e["proto"] == "UDP"]
    names = ("jdupont", "admin", "mmartin", "test", "backup", "svc-sql", "guest", "scanner")
    assert [k["cname"] for k in udp[0::2]] == list(names)
    assert [k["error_code"] for k in udp[1::2]] == [
        "KDC_ERR_C_PRINCIPAL_UNKNOWN" if k % 3 else "KDC_ERR_PREAUTH_REQUIRED" for k in range(8)
    ]
    reps = [k for k in r.of("krb5") if k["msg_type"] == "KRB_TGS_REP"]
    assert len({k["sname"] for k in reps}) == 10
    assert {(k["ticket_encryption"], k["ticket_weak_encryption"]) for k in reps} == {
        ("rc4-hmac", True)
    }
    assert r.detectors() == Counter({("behaviour.kerberoasting", 8_000_230): 1,
                                     ("behaviour.kerberoasting", 8_000_231): 1})  # fmt: skip


# -- tshark's judgement -----------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
def test_tshark_finds_nothing_wrong(captures: dict[str, Path]) -> None:
    """No malformed packet, no expert error, and no warning but the RST that PsExec and
    password guessing tools end their connections with (a real PsExec capture, suricata-verify
    dcerpc-smb-test-01, has the same one)."""
    for name, path in captures.items():
        out = subprocess.run(
            ["tshark", "-n", "-r", str(path), "-T", "fields", "-e", "frame.number",
             "-e", "_ws.expert.message", "-Y", "_ws.malformed || _ws.expert.severity >= 6291456"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        bad = [ln for ln in out.splitlines() if not ln.endswith("\tConnection reset (RST)")]
        assert bad == [], (name, bad[:5])
    protos = subprocess.run(
        ["tshark", "-n", "-r", str(captures["psexec"]), "-T", "fields", "-e", "_ws.col.Info",
         "-Y", "svcctl"], capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "CreateServiceW request" in protos and "StartServiceW request" in protos


# -- determinism ----------------------------------------------------------------------------


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    a, b, c = (tmp_path / f"{k}.pcap" for k in "abc")
    write_capture(psexec, a, seed=11)
    write_capture(psexec, b, seed=11)
    write_capture(psexec, c, seed=12)
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()
    one = kerberos.kerberoast(random.Random(9), user="u", realm=REALM, spns=(("HTTP", "x"),))
    two = kerberos.kerberoast(random.Random(9), user="u", realm=REALM, spns=(("HTTP", "x"),))
    assert one == two
