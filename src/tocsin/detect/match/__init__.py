"""Payload keyword matching for Suricata rules: one buffer's keyword list against bytes.

- `inspect`: content, pcre, byte_test / byte_jump / byte_extract, isdataat, bsize, with
  Suricata's relative positions and backtracking (`compile_buffer` once per rule buffer,
  `CompiledBuffer.inspect` per candidate buffer);
- `pcre`: the `pcre` keyword compiled with PCRE2 as Suricata compiles it;
- `bytes_ops`: numbers read from buffers and compared;
- `fastpattern`: which content feeds the prefilter.

Nothing here knows packets, flows or transactions: bytes in, a boolean out.
"""

from tocsin.detect.match.fastpattern import choose_fast_pattern, fp_bytes
from tocsin.detect.match.inspect import CompiledBuffer, compile_buffer, inspect
from tocsin.detect.match.pcre import CompiledPcre, compile_pcre

__all__ = [
    "CompiledBuffer",
    "CompiledPcre",
    "choose_fast_pattern",
    "compile_buffer",
    "compile_pcre",
    "fp_bytes",
    "inspect",
]
