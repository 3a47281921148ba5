"""Credential detectors on corpus captures too big or too GPL to copy into the repo.

Finds the corpus through TOCSIN_CORPUS (default `<repo>/../shared/corpus`); skipped without it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from correlate_kit import analyze_alerts, names

ROOT = Path(__file__).parents[2]
CORPUS = Path(os.environ.get("TOCSIN_CORPUS", ROOT.parent / "shared" / "corpus")).resolve()
if not CORPUS.is_dir():
    pytest.skip(f"corpus not found at {CORPUS}: set TOCSIN_CORPUS", allow_module_level=True)

pytestmark = pytest.mark.corpus

SSH_BRUTE = CORPUS / "pcaps/slips/dataset/test19-malicious-ssh/malicious-ssh-bruteforce.pcap"
NDPI = CORPUS / "pcaps/ndpi/pcap"
CREDENTIAL_DETECTORS = [
    "behaviour.brute_force",
    "behaviour.password_spray",
    "behaviour.kerberoasting",
]


def test_nmap_ssh_brute_on_port_902_is_found(tmp_path: Path) -> None:
    """Slips test19: nmap ssh-brute, 1 user x 40 passwords, against 147.32.80.37:902."""
    alerts = analyze_alerts([SSH_BRUTE], tmp_path, only=["behaviour.brute_force"])
    assert names(alerts) == ["behaviour.brute_force"]
    a = alerts[0]
    assert a["alert"]["signature_id"] == 8_000_201
    assert (a["src_ip"], a["dest_ip"], a["dest_port"]) == ("147.32.80.40", "147.32.80.37", 902)


@pytest.mark.parametrize("name", ["ssh.pcap", "rdp.pcap", "smbv1.pcap", "smb_deletefile.pcap"])
def test_ordinary_sessions_raise_nothing(tmp_path: Path, name: str) -> None:
    assert analyze_alerts([NDPI / name], tmp_path, only=CREDENTIAL_DETECTORS) == []
