"""BPF filters for live capture: a tcpdump expression compiled by libpcap, attached to the
socket so the kernel drops what the sensor must not see before it reaches the ring.

`compile_filter(expr)` returns the classic-BPF program (8-byte `sock_filter` instructions)
libpcap compiles for Ethernet; `attach_filter(sock, program)` attaches it
(`SO_ATTACH_FILTER`). libpcap is loaded when a filter is asked for (Debian: libpcap0.8, which
tshark already pulls in). Errors raise `BpfError` with libpcap's own message. On an AF_PACKET
socket the kernel has already taken a VLAN tag off the frame: write `vlan` expressions with
that in mind (or filter on addresses and ports, which work either way).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import socket
import struct

DLT_EN10MB = 1
SO_ATTACH_FILTER = 26
PCAP_NETMASK_UNKNOWN = 0xFFFFFFFF


class BpfError(Exception):
    """A filter that cannot be compiled or attached (libpcap's message)."""


class _Insn(ctypes.Structure):
    _fields_ = (
        ("code", ctypes.c_ushort),
        ("jt", ctypes.c_ubyte),
        ("jf", ctypes.c_ubyte),
        ("k", ctypes.c_uint32),
    )


class _Program(ctypes.Structure):
    _fields_ = (("bf_len", ctypes.c_uint), ("bf_insns", ctypes.POINTER(_Insn)))


def _libpcap() -> ctypes.CDLL:
    name = ctypes.util.find_library("pcap")
    if name is None:
        raise BpfError("BPF filters need libpcap (Debian: apt install libpcap0.8)")
    lib = ctypes.CDLL(name)
    lib.pcap_open_dead.restype = ctypes.c_void_p
    lib.pcap_open_dead.argtypes = (ctypes.c_int, ctypes.c_int)
    lib.pcap_compile.argtypes = (
        ctypes.c_void_p, ctypes.POINTER(_Program), ctypes.c_char_p, ctypes.c_int, ctypes.c_uint32,
    )  # fmt: skip
    lib.pcap_geterr.restype = ctypes.c_char_p
    lib.pcap_geterr.argtypes = (ctypes.c_void_p,)
    lib.pcap_freecode.argtypes = (ctypes.POINTER(_Program),)
    lib.pcap_close.argtypes = (ctypes.c_void_p,)
    return lib


def compile_filter(expr: str, snaplen: int = 262_144) -> bytes:
    """The program for `expr` (tcpdump syntax, Ethernet frames), as packed instructions."""
    lib = _libpcap()
    handle = lib.pcap_open_dead(DLT_EN10MB, snaplen)
    if not handle:
        raise BpfError("libpcap could not open a compiler handle")
    prog = _Program()
    try:
        if lib.pcap_compile(handle, ctypes.byref(prog), expr.encode(), 1, PCAP_NETMASK_UNKNOWN):
            why = (lib.pcap_geterr(handle) or b"").decode(errors="replace")
            raise BpfError(f"BPF filter {expr!r}: {why}")
        out = b"".join(
            struct.pack("HBBI", i.code, i.jt, i.jf, i.k) for i in prog.bf_insns[: prog.bf_len]
        )
        lib.pcap_freecode(ctypes.byref(prog))
        return out
    finally:
        lib.pcap_close(handle)


def attach_filter(sock: socket.socket, program: bytes) -> None:
    """Attach a compiled program to a packet socket (`SO_ATTACH_FILTER`)."""
    buf = ctypes.create_string_buffer(program, len(program))
    fprog = struct.pack("@HP", len(program) // 8, ctypes.addressof(buf))
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
    except OSError as e:
        raise BpfError(f"cannot attach the BPF filter: {e.strerror or e}") from None
