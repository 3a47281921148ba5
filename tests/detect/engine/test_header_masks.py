"""The vectorised pre-selection never loses an alert: for random header-only rules (ports,
addresses, direction, flow state, dsize, flags; the rules without a fast pattern that these
masks pre-select) the alerts are the same as when every packet is a candidate for every rule."""

from __future__ import annotations

from pathlib import Path

import msgspec
import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from detect.engine.pcapkit import Capture, Conversation
from tocsin.detect.engine import DetectEngine
from tocsin.detect.rules.loader import parse_rule
from tocsin.runtime.analyze import analyze
from tocsin.runtime.pipeline import PipelineConfig

PORTS = st.sampled_from(["any", "80", "!80", "[80,443]", "40000:40010", "[!80,1:1024]", ":1023"])
ADDRS = st.sampled_from(
    ["any", "10.0.0.1", "!10.0.0.1", "192.0.2.0/24", "[10.0.0.0/8,!10.0.0.2]", "$HOME_NET"]
)
FLOW = st.sampled_from(
    ["", "flow:to_server;", "flow:to_client;", "flow:established;", "flow:not_established;",
     "flow:established,to_client;"]
)  # fmt: skip
OTHER = st.sampled_from(
    ["", "dsize:0;", "dsize:>20;", "dsize:<5;", "dsize:10<>100;", "flags:S;", "flags:A+;",
     "flags:!R;", "flags:SA;"]
)  # fmt: skip


@st.composite
def rules(draw: st.DrawFn) -> str:
    out = []
    for sid in range(1, draw(st.integers(1, 6)) + 1):
        proto = draw(st.sampled_from(["tcp", "ip", "udp"]))
        arrow = draw(st.sampled_from(["->", "<>"]))
        head = f"{draw(ADDRS)} {draw(PORTS)} {arrow} {draw(ADDRS)} {draw(PORTS)}"
        opts = f"{draw(FLOW)} {draw(OTHER)}"
        out.append(f'alert {proto} {head} (msg:"r{sid}"; {opts} sid:{sid};)')
    return "\n".join(out)


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cap = Capture()
    for k, (client, port) in enumerate([("10.0.0.1", 80), ("10.0.0.2", 443), ("172.16.5.5", 22)]):
        c = Conversation(cap, client=client, cport=40000 + k, sport=port)
        c.open()
        c.send(0, b"x" * (10 + 30 * k))
        c.send(1, b"y" * (3 + k))
        c.close()
    cap.udp("10.0.0.3", 5000, "192.0.2.7", 80, b"ping")
    return cap.write(tmp_path_factory.mktemp("masks") / "c.pcap")


def _alerts(pcap: Path, text: str, tmp: Path, everything: bool) -> list[tuple[int, int]]:
    engine = DetectEngine([parse_rule(line) for line in text.splitlines()])
    if everything:  # the reference: no pre-selection at all
        engine._header_mask = lambda cr, pk, *a: np.ones(pk.shape[0], dtype=np.bool_)  # type: ignore[method-assign]
        engine._iponly_always = True
        engine._addr_mask = lambda cr, pk: np.ones(pk.shape[0], dtype=np.bool_)  # type: ignore[method-assign]
    eve = tmp / ("ref.json" if everything else "got.json")
    analyze([pcap], eve, PipelineConfig(writer_thread=False), detect=engine)
    events = [msgspec.json.decode(x) for x in eve.read_bytes().splitlines()]
    return sorted(
        (e["pcap_cnt"], e["alert"]["signature_id"])
        for e in events
        if e["event_type"] == "alert" and e["alert"]["gid"] == 1
    )


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@example(text='alert tcp any any -> any 80 (msg:"r1"; flow:to_server; flags:S; sid:1;)')
@example(text='alert ip any any <> 192.0.2.0/24 any (msg:"r1"; sid:1;)')
@given(text=rules())
def test_masks_lose_nothing(capture: Path, tmp_path: Path, text: str) -> None:
    got = _alerts(capture, text, tmp_path, everything=False)
    ref = _alerts(capture, text, tmp_path, everything=True)
    assert got == ref


def test_the_reference_sees_alerts(capture: Path, tmp_path: Path) -> None:
    """The comparison above is not vacuous: header-only rules do alert on this capture."""
    text = 'alert tcp any any -> any 80 (msg:"r1"; flow:to_server; flags:S; sid:1;)'
    assert _alerts(capture, text, tmp_path, everything=False) == [(1, 1)]
    text = 'alert ip any any <> 192.0.2.0/24 any (msg:"r1"; sid:1;)'
    assert len(_alerts(capture, text, tmp_path, everything=False)) == 7
