"""EVE records of SMB: Suricata's `smb` event and Tocsin's `smb_file` event.

`SmbEvent` follows Suricata's EVE JSON Schema (`properties.smb`, additionalProperties false):
one event per SMB command transaction (request + response), per DCERPC call carried over a
named pipe (`dcerpc`), and per file and direction for READ / WRITE (Suricata groups the reads,
and the writes, of one open file into one transaction, logged when the file is closed).

`SmbFileEvent` (`event_type: "smb_file"`) is Tocsin's own: one per opened file (not pipe) that
moved data, at CLOSE or at the end of the flow, with the bytes and operations read and written.
Suricata's smb event has no such counts; Suricata's `fileinfo` type is shared by every protocol
that carries files and describes file *content* (hashes, stored, gaps), which Tocsin does not
see (data payloads are skipped before reaching Python), so the counts get their own type rather
than a partial `fileinfo`.

Times (`created`, `accessed`, `modified`, `changed`, `opened`, `closed`) are Unix seconds.
"""

from __future__ import annotations

import msgspec

from tocsin.model.app import AppEvent


class SmbNtlmssp(msgspec.Struct, frozen=True, omit_defaults=True):
    """From the NTLMSSP AUTHENTICATE message of a SESSION_SETUP."""

    domain: str
    user: str
    host: str
    version: str | None = None  # "10.0 build 19041 rev 15" when the client sent it


class SmbKerberos(msgspec.Struct, frozen=True, omit_defaults=True):
    """From the Kerberos AP-REQ ticket of a SESSION_SETUP."""

    realm: str
    snames: list[str]


class SmbHost(msgspec.Struct, frozen=True, omit_defaults=True):
    """SMB1 SESSION_SETUP_ANDX native OS and LAN manager strings."""

    native_os: str
    native_lm: str


class SmbService(msgspec.Struct, frozen=True, omit_defaults=True):
    """SMB1 TREE_CONNECT_ANDX service strings ("IPC", "A:", "?????")."""

    request: str | None = None
    response: str | None = None


class SmbRename(msgspec.Struct, frozen=True, omit_defaults=True):
    from_: str = msgspec.field(name="from")
    to: str


class SmbSetInfo(msgspec.Struct, frozen=True, omit_defaults=True):
    class_: str = msgspec.field(name="class")
    info_level: str


class SmbDcerpcInterface(msgspec.Struct, frozen=True, omit_defaults=True):
    uuid: str
    version: str
    ack_result: int | None = None
    ack_reason: int | None = None
    service: str | None = None  # "svcctl", "drsuapi"... (Tocsin's table, see applayer.dcerpc)
    procedure: str | None = None  # "CreateServiceW", "DRSGetNCChanges"...


class SmbDcerpcStub(msgspec.Struct, frozen=True, omit_defaults=True):
    frag_cnt: int
    stub_data_size: int


class SmbDcerpc(msgspec.Struct, frozen=True, omit_defaults=True):
    request: str  # "BIND", "REQUEST"... or "REQUEST_LOST"
    response: str  # "BINDACK", "RESPONSE"... or "UNREPLIED"
    call_id: int
    opnum: int | None = None
    req: SmbDcerpcStub | None = None
    res: SmbDcerpcStub | None = None
    interfaces: list[SmbDcerpcInterface] | None = None


class SmbInfo(msgspec.Struct, frozen=True, omit_defaults=True):
    id: int  # transaction number in the flow, from 1 (EVE tx_id + 1)
    dialect: str  # "2.10", "3.11", "NT LM 0.12", or "unknown" (negotiation not seen)
    session_id: int
    tree_id: int
    command: str | None = None  # "SMB2_COMMAND_CREATE", "SMB1_COMMAND_NT_CREATE_ANDX"...
    status: str | None = None  # "STATUS_SUCCESS"...; absent when no response was seen
    status_code: str | None = None  # "0x0", "0xc0000022"
    # NEGOTIATE
    client_dialects: list[str] | None = None
    client_guid: str | None = None
    server_guid: str | None = None
    max_read_size: int | None = None
    max_write_size: int | None = None
    # SESSION_SETUP
    ntlmssp: SmbNtlmssp | None = None
    kerberos: SmbKerberos | None = None
    request: SmbHost | None = None
    response: SmbHost | None = None
    # TREE_CONNECT
    share: str | None = None
    named_pipe: str | None = None
    share_type: str | None = None  # "FILE", "PIPE", "PRINT"
    service: SmbService | None = None
    # CREATE / READ / WRITE / CLOSE / SET_INFO
    filename: str | None = None
    directory: str | None = None
    disposition: str | None = None  # "FILE_OPEN", "FILE_OVERWRITE_IF"...
    access: str | None = None  # "normal" or "delete on close"
    created: int | None = None
    accessed: int | None = None
    modified: int | None = None
    changed: int | None = None
    size: int | None = None
    fuid: str | None = None
    rename: SmbRename | None = None
    set_info: SmbSetInfo | None = None
    # IOCTL
    function: str | None = None  # "FSCTL_VALIDATE_NEGOTIATE_INFO"...
    # named-pipe DCERPC
    dcerpc: SmbDcerpc | None = None


class SmbEvent(AppEvent, frozen=True, kw_only=True, tag="smb"):
    smb: SmbInfo


class SmbFileInfo(msgspec.Struct, frozen=True, omit_defaults=True):
    """What one opened file (one FileId) carried, from its open to its close."""

    filename: str
    fuid: str
    session_id: int
    tree_id: int
    share: str | None = None  # "\\\\server\\share" when the TREE_CONNECT was seen
    bytes_read: int = 0  # data bytes in READ responses
    bytes_written: int = 0  # data bytes in WRITE requests
    reads: int = 0
    writes: int = 0
    size: int | None = None  # end-of-file at open
    delete_on_close: bool = False
    opened: int | None = None  # when the CREATE response was seen
    closed: int | None = None  # when the CLOSE was seen; absent: open when the flow ended


class SmbFileEvent(AppEvent, frozen=True, kw_only=True, tag="smb_file"):
    smb_file: SmbFileInfo
