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


def test_caller_formats_when_the_writer_is_behind(tmp_path: Path) -> None:
    """With the writer stalled, the caller formats chunks itself; the bytes are unchanged."""
    import threading

    import numpy as np

    from tocsin.flow.layout import FLOW_DTYPE
    from tocsin.output.eve_flow import FlowFormatter
    from tocsin.output.writer import EveWriter

    flows = np.zeros(40, dtype=FLOW_DTYPE)
    flows["ipver"] = 4
    flows["proto"] = 17
    flows["src_lo"] = 0xFFFF0A000001 + np.arange(40)
    flows["dst_lo"] = 0xFFFF0A0000FE
    flows["sport"] = 1024 + np.arange(40)
    flows["dport"] = 53
    flows["first_ts"] = 1_700_000_000_000_000 + np.arange(40)
    flows["last_ts"] = flows["first_ts"] + 5
    flows["pkts_ts"] = 1

    gate = threading.Event()

    class SlowSink(EveSink):
        def write_lines(self, data: bytes | memoryview, event_type: str, count: int) -> None:
            gate.wait(timeout=10)
            super().write_lines(data, event_type, count)

    seen: list[int] = []
    slow = SlowSink(tmp_path / "threaded.json")
    writer = EveWriter(slow, FlowFormatter(), on_flows=lambda f: seen.append(len(f)), depth=1)
    threading.Timer(0.3, gate.set).start()  # the writer is stalled for the first 0.3 s
    for k in range(0, 40, 4):
        writer.flows(flows[k : k + 4])
    writer.close()
    assert writer._helper._out.shape[0] > 0  # the caller did format while the writer waited
    slow.close()

    inline_sink = EveSink(tmp_path / "inline.json")
    inline = EveWriter(inline_sink, FlowFormatter(), threaded=False)
    inline.flows(flows)
    inline.close()
    inline_sink.close()
    assert (tmp_path / "threaded.json").read_bytes() == (tmp_path / "inline.json").read_bytes()
    assert sum(seen) == 40 and slow.counts["flow"] == 40
