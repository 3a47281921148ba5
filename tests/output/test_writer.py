"""The EVE writer keeps event order across threads and reports write errors to the caller."""

from __future__ import annotations

from pathlib import Path

import pytest

from tocsin.output.sink import EveSink, EveSinkError
from tocsin.runtime.analyze import analyze
from tocsin.runtime.pipeline import PipelineConfig

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def _run(tmp_path: Path, name: str, threaded: bool) -> bytes:
    eve = tmp_path / name
    analyze([SAMPLES], eve, PipelineConfig(writer_thread=threaded))
    return eve.read_bytes()


def test_threaded_writer_gives_the_same_bytes_as_inline(tmp_path: Path) -> None:
    threaded = _run(tmp_path, "a.json", True)
    inline = _run(tmp_path, "b.json", False)
    assert threaded == inline
    assert threaded.count(b'"event_type":"flow"') > 1000


def test_write_error_reaches_the_caller(tmp_path: Path) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("/dev/full not available")
    with pytest.raises(EveSinkError, match="/dev/full: cannot write EVE output"):
        analyze([SAMPLES], "/dev/full", PipelineConfig())


def test_unwritable_path_fails_before_reading(tmp_path: Path) -> None:
    with pytest.raises(EveSinkError, match="No such file or directory"):
        EveSink(tmp_path / "missing-dir" / "eve.json")
