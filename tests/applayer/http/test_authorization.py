"""The Authorization field: always logged, reduced to its scheme (and Basic's user name), so a
clear-text login is visible to analysts and detectors while the secret never is."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from correlate_kit import analyze_alerts
from tocsin.applayer.http.transaction import auth_summary

FIXTURE = Path(__file__).parents[2] / "fixtures" / "correlate" / "zeek-http-basic-auth.pcap"


def test_summaries_keep_the_scheme_and_user_never_the_secret() -> None:
    basic = b"Basic " + base64.b64encode(b"alice:s3cr:et")
    assert auth_summary(basic) == "Basic user=alice"
    assert auth_summary(b"Bearer eyJhbGciOi.secret.token") == "Bearer"
    assert auth_summary(b"NTLM TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw==") == "NTLM"
    assert auth_summary(b"Basic !!notbase64") == "Basic (undecodable)"
    assert auth_summary(b"Basic " + base64.b64encode(b"only-a-token")) == "Basic (malformed)"


def test_basic_login_end_to_end_is_alerted_and_its_password_never_written(tmp_path: Path) -> None:
    alerts = analyze_alerts([FIXTURE], tmp_path, only=["behaviour.cleartext_credentials"])
    assert [a["alert"]["signature_id"] for a in alerts] == [8_000_222]
    assert alerts[0]["alert"]["context"]["evidence"]["users"] == ["test"]
    eve = (tmp_path / "eve.json").read_text()
    http = [json.loads(x) for x in eve.splitlines() if '"event_type":"http"' in x]
    headers = http[0]["http"]["request_headers"]
    assert {"name": "Authorization", "value": "Basic user=test"} in headers
    raw = FIXTURE.read_bytes()
    token = raw.split(b"Authorization: Basic ", 1)[1].split(b"\r\n", 1)[0]
    password = base64.b64decode(token).split(b":", 1)[1].decode()
    assert token.decode() not in eve and password not in eve
