"""Sticky buffers: the bytes a signature's `http.uri`, `dns.query`, `tls.sni`... inspect, built
from HTTP transactions (`http`) and from DNS / TLS / SSH / SMB events (`events`) the way
Suricata 8 builds them; `registry` says which protocol, direction and transaction stage each
buffer belongs to; `uri` is libhtp's request-URI normalisation (`http.uri`)."""

from tocsin.detect.buffers.events import EventBuffers, EventInfo, event_buffers
from tocsin.detect.buffers.http import HttpBuffers, http_stage, reached, stage_of
from tocsin.detect.buffers.registry import BUFFERS, BufferSpec, Stage, canonical, spec
from tocsin.detect.buffers.uri import normalized_uri

__all__ = [
    "BUFFERS",
    "BufferSpec",
    "EventBuffers",
    "EventInfo",
    "HttpBuffers",
    "Stage",
    "canonical",
    "event_buffers",
    "http_stage",
    "normalized_uri",
    "reached",
    "spec",
    "stage_of",
]
