"""Which parser class serves which protocol (`ALPROTO_*`), for TCP and for UDP.

`builtin()` lists Tocsin's own parsers, in one place; the dispatcher (`runtime.applayer`) is
given a `Registry` and asks it `parser_for(alproto, ip_proto)` when a flow's protocol is known.
A protocol without a parser for that transport is still detected and named on the flow
(`app_proto`), just not parsed. Tests build their own registries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from tocsin.applayer.base import AppParser


@dataclass(frozen=True, slots=True)
class Registry:
    tcp: Mapping[int, type[AppParser]] = field(default_factory=dict)
    udp: Mapping[int, type[AppParser]] = field(default_factory=dict)

    def parser_for(self, alproto: int, ip_proto: int) -> type[AppParser] | None:
        if ip_proto == 6:
            return self.tcp.get(alproto)
        if ip_proto == 17:
            return self.udp.get(alproto)
        return None

    def protocols(self) -> set[int]:
        """Protocols with a parser on some transport."""
        return set(self.tcp) | set(self.udp)

    def only(self, names: set[str]) -> Registry:
        """The same registry restricted to the protocols named (`ALPROTO_NAMES` words)."""
        from tocsin.applayer.protos import ALPROTO_NAMES

        return Registry(
            {k: v for k, v in self.tcp.items() if ALPROTO_NAMES[k] in names},
            {k: v for k, v in self.udp.items() if ALPROTO_NAMES[k] in names},
        )


def builtin() -> Registry:
    """Tocsin's parsers (imported here, not at module import)."""
    from tocsin.applayer import protos as p
    from tocsin.applayer.dcerpc.parser import DcerpcParser
    from tocsin.applayer.dhcp.parser import DhcpParser
    from tocsin.applayer.dicom.parser import DicomParser
    from tocsin.applayer.dns.parser import DnsTcpParser, DnsUdpParser
    from tocsin.applayer.ftp.parser import FtpParser
    from tocsin.applayer.hl7.parser import HL7Parser
    from tocsin.applayer.http.parser import HttpParser
    from tocsin.applayer.imap.parser import ImapParser
    from tocsin.applayer.krb5.parser import Krb5TcpParser, Krb5UdpParser
    from tocsin.applayer.pop3.parser import Pop3Parser
    from tocsin.applayer.rdp.parser import RdpParser
    from tocsin.applayer.smb.parser import SmbParser
    from tocsin.applayer.ssh.parser import SshParser
    from tocsin.applayer.tls.parser import TlsParser

    tcp: dict[int, type[AppParser]] = {
        p.ALPROTO_HTTP: HttpParser,
        p.ALPROTO_TLS: TlsParser,
        p.ALPROTO_DNS: DnsTcpParser,
        p.ALPROTO_SMB: SmbParser,
        p.ALPROTO_DCERPC: DcerpcParser,
        p.ALPROTO_SSH: SshParser,
        p.ALPROTO_RDP: RdpParser,
        p.ALPROTO_DICOM: DicomParser,
        p.ALPROTO_HL7: HL7Parser,
        p.ALPROTO_FTP: FtpParser,
        p.ALPROTO_KRB5: Krb5TcpParser,
        p.ALPROTO_POP3: Pop3Parser,
        p.ALPROTO_IMAP: ImapParser,
    }
    udp: dict[int, type[AppParser]] = {
        p.ALPROTO_DNS: DnsUdpParser,
        p.ALPROTO_DHCP: DhcpParser,
        p.ALPROTO_KRB5: Krb5UdpParser,
    }
    return Registry(tcp, udp)
