"""Exercise-mode builders of the Windows domain, message by message: the NTLMSSP and
Kerberos bytes read back by Tocsin's own decoders, SMB2 message ids / credits / session ids
/ signing flags, DCERPC fragmentation over a pipe, and the arguments refused.
(The captures and their judgement by the pipeline and tshark: `test_proto_windows.py`.)
"""

from __future__ import annotations

import random

import pytest

from applayer.replay import Feeder
from tocsin.applayer.krb5.message import decode as krb5_decode
from tocsin.applayer.smb import SmbParser
from tocsin.applayer.smb.auth import parse_blob
from tocsin.exercise.proto import dcerpc, kerberos, ntlm
from tocsin.exercise.proto import smb2msg as m
from tocsin.exercise.proto.smb2 import Smb2Session
from tocsin.exercise.wire.turns import CLIENT, SERVER, Turn
from tocsin.model.smb import SmbInfo

NOW = 1_710_495_012.0
REALM = "CHU.LOCAL"


def session(rng: random.Random, server: str = "FS01", target: str | None = None) -> Smb2Session:
    return Smb2Session(rng, client="PC-SOINS-12", server=server, user="jdupont", domain="CHU",
                       target=target, now=NOW)  # fmt: skip


def test_ntlm_authenticate_read_by_tocsin() -> None:
    rng = random.Random(1)
    chal = ntlm.challenge(rng, nb_domain="CHU", nb_computer="FS01", dns_domain="chu.local",
                          now=NOW)  # fmt: skip
    info = ntlm.challenge_target_info(chal)
    assert "fs01.chu.local".encode("utf-16-le") in info and info.endswith(b"\x00\x00\x00\x00")
    auth = ntlm.authenticate(rng, domain="CHU", user="jdupont", workstation="pc-soins-12",
                             server_info=info, spn="cifs/FS01", now=NOW)  # fmt: skip
    got, krb = parse_blob(ntlm.spnego_resp(token=auth, mic=ntlm.ntlm_mic(rng)))
    assert krb is None and got is not None
    assert (got.domain, got.user, got.host, got.version) == (
        "CHU",
        "jdupont",
        "PC-SOINS-12",
        "10.0 build 19041 rev 15",
    )
    nt_len, _, nt_off = (int.from_bytes(auth[20 + k : 22 + k], "little") for k in (0, 2, 4))
    nt = auth[nt_off : nt_off + nt_len]
    assert nt[16:18] == b"\x01\x01" and info[:-4] in nt  # NTLMv2 blob with the server's pairs


def test_kerberos_messages_read_by_tocsin() -> None:
    rng = random.Random(2)
    spn = ("MSSQLSvc", "sql01.chu.local:1433")
    msgs = [
        kerberos.as_req(rng, user="jdupont", realm=REALM, host="PC-SOINS-12", preauth=True),
        kerberos.as_rep(rng, user="jdupont", realm=REALM),
        kerberos.krb_error(rng, code=kerberos.KDC_ERR_PREAUTH_FAILED, realm=REALM,
                           sname=("krbtgt", REALM), now=NOW, user="jdupont", named=True),
        kerberos.tgs_req(rng, realm=REALM, sname=spn, etypes=(kerberos.RC4,)),
        kerberos.tgs_rep(rng, user="jdupont", realm=REALM, sname=spn, ticket_etype=kerberos.RC4),
    ]  # fmt: skip
    infos = []
    last = 0
    for msg in msgs:
        info, last = krb5_decode(msg, last, 64)
        assert info is not None
        infos.append(info)
    assert [i.msg_type for i in infos] == [
        "KRB_AS_REQ", "KRB_AS_REP", "KRB_ERROR", "KRB_TGS_REQ", "KRB_TGS_REP"
    ]  # fmt: skip
    assert (infos[1].cname, infos[1].encryption, infos[1].ticket_encryption) == (
        "jdupont",
        "aes256-cts-hmac-sha1-96",
        "aes256-cts-hmac-sha1-96",
    )
    assert (infos[2].error_code, infos[2].cname, infos[2].realm) == (
        "KDC_ERR_PREAUTH_FAILED",
        "jdupont",
        REALM,
    )
    assert (infos[4].sname, infos[4].ticket_encryption, infos[4].ticket_weak_encryption) == (
        "MSSQLSvc/sql01.chu.local:1433",
        "rc4-hmac",
        True,
    )
    windows_style = kerberos.krb_error(
        rng,
        code=kerberos.KDC_ERR_PREAUTH_REQUIRED,
        realm=REALM,
        sname=("krbtgt", REALM),
        now=NOW,
        user="jdupont",
    )
    info, _ = krb5_decode(windows_style, 10, 64)  # fmt: skip
    assert info is not None and info.cname == "<empty>"  # a Windows KDC does not name the client
    _, krb = parse_blob(kerberos.gss_ap_req(rng, realm=REALM, sname=("cifs", "fs01.chu.local")))
    assert krb is not None and (krb.realm, krb.snames) == (REALM, ["cifs", "fs01.chu.local"])


def headers(turns: list[Turn]) -> list[tuple[int, int, int, int, int, int, int]]:
    """(side, command, message id, credit charge, credits, flags, session id) per message."""
    out = []
    for t in turns:
        h = t.data[4:68]
        assert t.data[:4] == (len(t.data) - 4).to_bytes(4, "big") and h[:4] == b"\xfeSMB"
        out.append(
            (
                t.side,
                int.from_bytes(h[12:14], "little"),
                int.from_bytes(h[24:32], "little"),
                int.from_bytes(h[6:8], "little"),
                int.from_bytes(h[14:16], "little"),
                int.from_bytes(h[16:20], "little"),
                int.from_bytes(h[40:48], "little"),
            )
        )
    return out  # fmt: skip


def test_message_ids_credits_sessions_and_signing() -> None:
    s = session(random.Random(3))
    s.negotiate()
    s.session_setup(ok=False)
    s.session_setup()
    tree = s.tree_connect("\\\\FS01\\Soins")
    assert (
        tree is not None
        and s.tree_connect("\\\\FS01\\Nope", status=m.STATUS_BAD_NETWORK_NAME) is None
    )
    f = s.create(tree, "big.iso", size=3 * m.CHUNK + 10)
    assert (
        f is not None
        and s.create(tree, "missing.txt", status=m.STATUS_OBJECT_NAME_NOT_FOUND) is None
    )
    s.read(f, 3 * m.CHUNK + 10)
    s.close(f)
    s.logoff()
    h = headers(s.turns())
    reqs, resps = h[0::2], h[1::2]
    assert [x[0] for x in reqs] == [CLIENT] * len(reqs) and [x[0] for x in resps] == [SERVER] * len(
        resps
    )
    assert [r[1:4] for r in resps] == [q[1:4] for q in reqs]  # same command, id, charge
    ids = [q[2] for q in reqs]
    assert ids == sorted(ids) and all(
        b - a == max(q[3], 1) for a, b, q in zip(ids, ids[1:], reqs, strict=False)
    )
    assert [q[3] for q in reqs if q[1] == m.READ] == [16, 16, 16, 1]  # 1 MiB reads cost 16
    granted = 1  # the client never spends more credits than it was granted
    for q, r in zip(reqs, resps, strict=True):
        granted -= max(q[3], 1)
        assert granted >= 0
        granted += r[4]
    sids = [r[6] for r in resps]
    assert sids[0] == 0 and sids[1] == sids[2] != 0  # the refused session's id, then a new one
    assert sids[3] not in (0, sids[1]) and set(sids[3:]) == {sids[3]}
    signed = [bool(x[5] & m.FLAG_SIGNED) for x in h]
    assert signed[:9] == [False] * 9 and all(signed[9:])  # from the successful SETUP's response


def test_dcerpc_long_request_is_fragmented() -> None:
    rng = random.Random(4)
    s = session(rng, "SRV-PACS")
    s.negotiate()
    s.session_setup()
    ipc = s.tree_connect("\\\\SRV-PACS\\IPC$")
    assert ipc is not None
    args = "/C " + "x" * 6000
    dcerpc.remote_task(s, ipc, rng, name="t", command="cmd.exe", arguments=args, transceive=True)
    frags = [t.data[4 + 64 + 48 :] for t in s.turns() if t.data[4 + 12] == m.WRITE]
    pdus = [f for f in frags if f[:1] == b"\x05" and f[2] == dcerpc.REQUEST]
    assert [p[3] for p in pdus] == [dcerpc.FIRST, 0, 0] and {len(p) for p in pdus} == {4280}
    last = next(t.data[4 + 64 + 56 :] for t in s.turns() if t.data[4 + 12] == m.IOCTL)
    assert last[2] == dcerpc.REQUEST and last[3] == dcerpc.LAST  # the last one by IOCTL
    with pytest.raises(ValueError):
        s.transceive(s.create(ipc, "svcctl") or pytest.fail(), b"", bytes(m.MAX_PIPE_OUT + 1))


def test_refusals_raise() -> None:
    rng = random.Random(5)
    with pytest.raises(ValueError):
        kerberos.logon(rng, user="a", realm=REALM, host="H", now=NOW, tcp=False)
    s = session(rng, "SRV-PACS", target="10.10.0.30")
    with pytest.raises(ValueError):
        s.session_setup_kerberos()
    s.session_setup()
    with pytest.raises(ValueError):
        s.session_setup()
    disk = s.tree_connect("\\\\SRV-PACS\\C$")
    assert disk is not None
    with pytest.raises(ValueError):
        dcerpc.RpcPipe(s, disk, dcerpc.SVCCTL, rng)


def test_file_operations_read_by_tocsin() -> None:
    """Delete by SET_INFO, rename, a refused CREATE, and an existing service, through
    Tocsin's SMB parser fed the turns as they are."""
    rng = random.Random(6)
    s = session(rng)
    s.negotiate()
    s.session_setup()
    tree = s.tree_connect("\\\\FS01\\Soins")
    ipc = s.tree_connect("\\\\FS01\\IPC$")
    assert tree is not None and ipc is not None
    f = s.create(tree, "a\\old.docx", size=10, access=m.READ_ACCESS | m.DELETE_ACCESS)
    assert f is not None
    s.delete(f)
    s.close(f)
    g = s.create(tree, "a\\b.docx", size=10, access=m.RW_ACCESS | m.DELETE_ACCESS)
    assert g is not None
    s.rename(g, "a\\b.docx.ryk")
    s.close(g)
    s.create(tree, "a\\locked.xlsx", status=m.STATUS_SHARING_VIOLATION)
    p = dcerpc.RpcPipe(s, ipc, dcerpc.SVCCTL, rng)
    p.open()
    scm = dcerpc.handle(rng)
    p.call(15, dcerpc.open_sc_manager("\\\\FS01", scm))
    exists = dcerpc.ERROR_SERVICE_EXISTS
    p.call(12, dcerpc.create_service(scm, "svc", "svc", "C:\\x.exe", b"", error=exists))
    p.close()
    feeder = Feeder(SmbParser)
    for t in s.turns():
        feeder.feed(t.side, t.data)
    feeder.parser.close(0)
    ev = [b for b in feeder.bodies() if isinstance(b, SmbInfo)]
    sets = [(e.filename, e.access, e.rename) for e in ev if e.command == "SMB2_COMMAND_SET_INFO"]
    assert sets[0] == ("a\\old.docx", "delete on close", None)
    assert sets[1][2] is not None and (sets[1][2].from_, sets[1][2].to) == (
        "a\\b.docx",
        "a\\b.docx.ryk",
    )
    refused = [e for e in ev if e.filename == "a\\locked.xlsx"]
    assert [(e.status, e.status_code) for e in refused] == [
        ("STATUS_SHARING_VIOLATION", "0xc0000043")
    ]
    calls = [e.dcerpc for e in ev if e.dcerpc is not None and e.dcerpc.request == "REQUEST"]
    assert [(c.opnum, c.response) for c in calls] == [(15, "RESPONSE"), (12, "RESPONSE")]
    stub = dcerpc.create_service(scm, "svc", "svc", "C:\\x.exe", b"", error=exists)[1]
    assert stub[-4:] == exists.to_bytes(4, "little") and stub[4:24] == bytes(20)
