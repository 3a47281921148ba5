"""Application protocol numbers: the flow table stores one byte per flow (`app_proto`).

The same protocol word is used in every stage: the probe, the parser's `name`, the EVE
`event_type`, the flow's `app_proto` and the stats counters (`app_layer.flow.<word>`).
`failed` is Suricata's word for a flow whose payload matched no probe.
"""

from __future__ import annotations

ALPROTO_UNKNOWN = 0  # no payload yet, or still probing
ALPROTO_FAILED = 1
ALPROTO_HTTP = 2
ALPROTO_TLS = 3
ALPROTO_DNS = 4
ALPROTO_SMB = 5
ALPROTO_DCERPC = 6
ALPROTO_DHCP = 7
ALPROTO_SSH = 8
ALPROTO_RDP = 9
ALPROTO_DICOM = 10
ALPROTO_HL7 = 11
ALPROTO_FTP = 12
ALPROTO_KRB5 = 13
ALPROTO_POP3 = 14
ALPROTO_IMAP = 15
N_ALPROTOS = 16

ALPROTO_NAMES: tuple[str, ...] = (
    "",
    "failed",
    "http",
    "tls",
    "dns",
    "smb",
    "dcerpc",
    "dhcp",
    "ssh",
    "rdp",
    "dicom",
    "hl7",
    "ftp",
    "krb5",
    "pop3",
    "imap",
)
ALPROTO_CODE = {name: code for code, name in enumerate(ALPROTO_NAMES) if name}

# probe results other than a protocol number
PROBE_NO = 0  # not any known protocol
PROBE_MORE = 255  # too few bytes to say: look again with more
