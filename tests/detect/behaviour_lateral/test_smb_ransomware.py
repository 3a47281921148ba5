"""behaviour.smb_ransomware: encryption patterns built from `smb` / `smb_file` records (no
public capture of ransomware over SMB is in the corpus), near misses, and real SMB captures
without ransomware."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lateral_records import S, create, delete, rename, smb_file, tree_connect

from correlate_kit import analyze_alerts, feed, names
from tocsin.detect.behaviour._ransom_names import note_kind, ransom_extension
from tocsin.detect.behaviour.ransomware import SmbRansomware, SmbRansomwareConfig

MS = 1000
ROOT = Path(__file__).parents[3]


def _in_place(n: int, ext: str = ".lockbit", step: int = 200 * MS) -> list[Any]:
    """Open, overwrite, rename each file: what LockBit/Conti do to a mapped share."""
    out: list[Any] = [tree_connect(0, "\\\\fs1\\Radiologie")]
    for i in range(n):
        name = f"comptes\\2023\\rapport_{i:03d}.docx"
        t = (i + 1) * step
        out.append(create(t, name, "FILE_OPEN"))
        out.append(
            smb_file(
                t + 1,
                name,
                "\\\\fs1\\Radiologie",
                bytes_read=9000,
                bytes_written=9016,
                reads=2,
                writes=2,
            )
        )
        out.append(rename(t + 2, name, name + ext))
    return out


def _evidence(a: Any) -> dict[str, Any]:
    return a.alert.context["evidence"]  # type: ignore[no-any-return]


def test_in_place_encryption_with_extension_is_high() -> None:
    alerts = feed(SmbRansomware(), _in_place(60))
    assert names(alerts) == ["behaviour.smb_ransomware"]
    a = alerts[0]
    assert a.alert.signature_id == 8_000_310 and a.alert.severity == 1
    assert a.alert.metadata["confidence"] == ["high"]  # type: ignore[index]
    ev = _evidence(a)
    assert ev["files_written"] >= 10 and ev["extensions"] == {".lockbit": 10}
    assert ev["shares"] == ["RADIOLOGIE"] and len(ev["files_sample"]) == 10
    assert "in 60 s" in ev["threshold"]


def test_mass_rewrite_and_rename_to_unknown_extension_is_medium() -> None:
    alerts = feed(SmbRansomware(), _in_place(60, ext=".x7f3q"))
    assert len(alerts) == 1 and alerts[0].alert.metadata["confidence"] == ["medium"]  # type: ignore[index]
    ev = _evidence(alerts[0])
    assert ev["files_written"] == 50 and ev["files_renamed"] == 50


def test_copy_encrypt_delete_pattern() -> None:
    items: list[Any] = []
    for i in range(55):
        t = (i + 1) * 300 * MS
        src = f"dossiers\\f{i}.xlsx"
        items.append(create(t, src + ".crypt", "FILE_CREATE"))
        items.append(delete(t + 1, src))
    alerts = feed(SmbRansomware(), items)
    assert len(alerts) == 1 and alerts[0].alert.metadata["confidence"] == ["high"]  # type: ignore[index]


def test_slow_encryption_outside_the_window_stays_quiet() -> None:
    """60 files, one every 2 s: never 50 in a 60 s window (and an unknown extension)."""
    assert feed(SmbRansomware(), _in_place(60, ext=".x7f3q", step=2 * S)) == []
    assert (
        feed(
            SmbRansomware(SmbRansomwareConfig(window_s=300)),
            _in_place(60, ext=".x7f3q", step=2 * S),
        )
        != []
    )


def test_copying_a_folder_or_reading_everything_is_not_ransomware() -> None:
    copy = [create(i * 100 * MS, f"scans\\img{i}.dcm", "FILE_CREATE") for i in range(300)]
    copy += [
        smb_file(i * 100 * MS + 1, f"scans\\img{i}.dcm", bytes_written=500_000) for i in range(300)
    ]
    assert feed(SmbRansomware(), copy) == []
    backup = [smb_file(i * 10 * MS, f"d\\{i}.pdf", bytes_read=90_000) for i in range(500)]
    assert feed(SmbRansomware(), backup) == []


def test_moving_or_deleting_a_folder_is_not_ransomware() -> None:
    move = [rename(i * MS, f"old\\{i}.pdf", f"new\\{i}.pdf") for i in range(200)]
    assert feed(SmbRansomware(), move) == []
    rm = [delete(i * MS, f"old\\{i}.pdf") for i in range(200)]
    assert feed(SmbRansomware(), rm) == []


def test_office_temporary_files_are_not_counted() -> None:
    items: list[Any] = []
    for i in range(100):
        t = i * 300 * MS
        items.append(create(t, f"~$rapport{i}.docx", "FILE_CREATE"))
        items.append(create(t + 1, f"~WRL{i:04d}.tmp", "FILE_CREATE"))
        items.append(rename(t + 2, f"~WRL{i:04d}.tmp", f"rapport{i}.docx"))
        items.append(delete(t + 3, f"~$rapport{i}.docx"))
    assert feed(SmbRansomware(), items) == []


def test_a_telling_ransom_note_alone_is_medium() -> None:
    alerts = feed(SmbRansomware(), [create(0, "Partage\\HOW_TO_DECRYPT.txt", "FILE_CREATE")])
    assert len(alerts) == 1
    a = alerts[0]
    assert a.alert.signature_id == 8_000_311 and a.alert.severity == 2
    assert a.alert.metadata["confidence"] == ["medium"]  # type: ignore[index]
    assert _evidence(a)["ransom_notes"] == ["HOW_TO_DECRYPT.txt"]


def test_generic_readme_counts_only_in_several_folders() -> None:
    one = [create(0, "projet\\README.txt", "FILE_CREATE")]
    assert feed(SmbRansomware(), one) == []
    many = [create(i * S, f"d{i}\\README.txt", "FILE_CREATE") for i in range(3)]
    assert len(feed(SmbRansomware(), many)) == 1


@pytest.mark.parametrize(
    ("name", "ext"),
    [
        ("a.docx.lockbit", ".lockbit"),
        ("b.pdf.RYK", ".ryk"),
        ("c.xlsx", None),
        ("d.doc.id[1E2F-2275].[restore@mail.cc].eking", ".eking"),
        ("Main.java", None),
    ],
)
def test_ransom_extension(name: str, ext: str | None) -> None:
    assert ransom_extension(name) == ext


def test_note_names() -> None:
    assert note_kind("RESTORE-MY-FILES.TXT") == "specific"
    assert note_kind("!!!READ_ME!!!.txt") == "specific"
    assert note_kind("x4Tq_readme.txt") == "specific"
    assert note_kind("README.txt") == "generic"
    assert note_kind("rapport.docx") is None


@pytest.mark.parametrize(
    "capture",
    [
        "samples/smb2-file-share.pcap",
        "tests/fixtures/applayer/smb/smb2_delete_on_close.pcap",
        "tests/fixtures/applayer/smb/smb2_async_rename.pcap",
        "tests/fixtures/applayer/smb/smb1_write_andx.pcap",
    ],
)
def test_real_smb_captures_without_ransomware(capture: str, tmp_path: Path) -> None:
    assert analyze_alerts([ROOT / capture], tmp_path, only=["behaviour.smb_ransomware"]) == []
