"""The rule language's vocabulary: protocols, buffers, and every keyword name Suricata knows.

What Tocsin supports is the set of handlers in `options`; this module says what the other
names are, so that a rule is reported precisely: a Suricata keyword Tocsin does not implement
is "keyword not supported", a name Suricata does not know either is "unknown rule keyword"
(a typo, or Snort syntax).

Buffers use their canonical dotted names (`http.uri`); the packet payload is `model.PAYLOAD`.
Each buffer has the app-layer protocol it implies (`Rule.app_proto` unless the rule names one)
and the direction it is seen in ("ts" to server, "tc" to client, "" both), which Suricata uses
to reject rules mixing request-only and response-only buffers.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Buffer:
    name: str  # canonical dotted name
    proto: str | None  # app-layer protocol it implies
    direction: str  # "ts", "tc" or "" (both)


def _b(name: str, proto: str | None, direction: str = "") -> Buffer:
    return Buffer(name, proto, direction)


BUFFERS: dict[str, Buffer] = {
    b.name: b
    for b in (
        _b("http.uri", "http", "ts"),
        _b("http.uri.raw", "http", "ts"),
        _b("http.method", "http", "ts"),
        _b("http.host", "http", "ts"),
        _b("http.host.raw", "http", "ts"),
        _b("http.user_agent", "http", "ts"),
        _b("http.request_body", "http", "ts"),
        _b("http.request_line", "http", "ts"),
        _b("http.accept", "http", "ts"),
        _b("http.accept_enc", "http", "ts"),
        _b("http.accept_lang", "http", "ts"),
        _b("http.referer", "http", "ts"),
        _b("http.response_body", "http", "tc"),
        _b("http.stat_code", "http", "tc"),
        _b("http.stat_msg", "http", "tc"),
        _b("http.response_line", "http", "tc"),
        _b("http.server", "http", "tc"),
        _b("http.location", "http", "tc"),
        _b("http.request_header", "http", "ts"),  # one instance per header field
        _b("http.response_header", "http", "tc"),
        _b("http.header", "http"),
        _b("http.header.raw", "http"),
        _b("http.cookie", "http"),
        _b("http.protocol", "http"),
        _b("http.start", "http"),
        _b("http.header_names", "http"),
        _b("http.connection", "http"),
        _b("http.content_type", "http"),
        _b("http.content_len", "http"),
        _b("file.data", None),
        _b("dns.query", "dns"),
        _b("tls.sni", "tls", "ts"),
        _b("tls.cert_subject", "tls"),
        _b("tls.cert_issuer", "tls"),
        _b("tls.cert_serial", "tls"),
        _b("tls.cert_fingerprint", "tls"),
        _b("tls.certs", "tls"),
        _b("ja3.hash", "tls", "ts"),
        _b("ja3.string", "tls", "ts"),
        _b("ja3s.hash", "tls", "tc"),
        _b("ja3s.string", "tls", "tc"),
        _b("ja4.hash", "tls", "ts"),
        _b("ssh.proto", "ssh"),
        _b("ssh.software", "ssh"),
        _b("ssh.hassh", "ssh", "ts"),
        _b("ssh.hassh.string", "ssh", "ts"),
        _b("ssh.hassh.server", "ssh", "tc"),
        _b("ssh.hassh.server.string", "ssh", "tc"),
        _b("smb.named_pipe", "smb"),
        _b("smb.share", "smb"),
    )
}

# sticky-buffer keywords (dotted names and Suricata's legacy aliases) -> buffer
STICKY: dict[str, Buffer] = dict(BUFFERS)
STICKY.update(
    {
        "file_data": BUFFERS["file.data"],
        "dns_query": BUFFERS["dns.query"],
        "tls_sni": BUFFERS["tls.sni"],
        "tls_cert_subject": BUFFERS["tls.cert_subject"],
        "tls_cert_issuer": BUFFERS["tls.cert_issuer"],
        "tls_cert_serial": BUFFERS["tls.cert_serial"],
        "tls_cert_fingerprint": BUFFERS["tls.cert_fingerprint"],
        "ja3_hash": BUFFERS["ja3.hash"],
        "ja3_string": BUFFERS["ja3.string"],
        "ssh_proto": BUFFERS["ssh.proto"],
        "ssh_software": BUFFERS["ssh.software"],
        "smb_named_pipe": BUFFERS["smb.named_pipe"],
        "smb_share": BUFFERS["smb.share"],
        "http_request_line": BUFFERS["http.request_line"],
        "http_response_line": BUFFERS["http.response_line"],
        "http_header_names": BUFFERS["http.header_names"],
        "http_accept": BUFFERS["http.accept"],
        "http_accept_enc": BUFFERS["http.accept_enc"],
        "http_accept_lang": BUFFERS["http.accept_lang"],
        "http_referer": BUFFERS["http.referer"],
        "http_connection": BUFFERS["http.connection"],
        "http_content_type": BUFFERS["http.content_type"],
        "http_content_len": BUFFERS["http.content_len"],
        "http_start": BUFFERS["http.start"],
        "http_protocol": BUFFERS["http.protocol"],
        "http_server": BUFFERS["http.server"],
        "http_location": BUFFERS["http.location"],
    }
)

# legacy content modifiers: they move the previous packet-payload content to a buffer
MODIFIERS: dict[str, Buffer] = {
    "http_uri": BUFFERS["http.uri"],
    "http_raw_uri": BUFFERS["http.uri.raw"],
    "http_method": BUFFERS["http.method"],
    "http_header": BUFFERS["http.header"],
    "http_raw_header": BUFFERS["http.header.raw"],
    "http_cookie": BUFFERS["http.cookie"],
    "http_user_agent": BUFFERS["http.user_agent"],
    "http_host": BUFFERS["http.host"],
    "http_raw_host": BUFFERS["http.host.raw"],
    "http_client_body": BUFFERS["http.request_body"],
    "http_server_body": BUFFERS["http.response_body"],
    "http_stat_code": BUFFERS["http.stat_code"],
    "http_stat_msg": BUFFERS["http.stat_msg"],
}

# pcre modifiers selecting a buffer
PCRE_BUFFERS: dict[str, Buffer] = {
    "U": BUFFERS["http.uri"],
    "I": BUFFERS["http.uri.raw"],
    "P": BUFFERS["http.request_body"],
    "Q": BUFFERS["http.response_body"],
    "H": BUFFERS["http.header"],
    "D": BUFFERS["http.header.raw"],
    "M": BUFFERS["http.method"],
    "C": BUFFERS["http.cookie"],
    "S": BUFFERS["http.stat_code"],
    "Y": BUFFERS["http.stat_msg"],
    "V": BUFFERS["http.user_agent"],
    "W": BUFFERS["http.host"],
    "Z": BUFFERS["http.host.raw"],
}
PCRE_FLAGS = frozenset("ismxAEGOB")  # kept in Pcre.flags

# rule protocols Tocsin handles: transport words, and app-layer words -> Rule.app_proto
TRANSPORT_PROTOS = frozenset(
    {"ip", "tcp", "udp", "icmp", "icmpv4", "icmpv6", "pkthdr", "tcp-pkt", "tcp-stream"}
)
APP_PROTOS: dict[str, str] = {
    "http": "http",
    "http1": "http",
    "dns": "dns",
    "tls": "tls",
    "smb": "smb",
    "dcerpc": "dcerpc",
    "dhcp": "dhcp",
    "ssh": "ssh",
    "rdp": "rdp",
    "ftp": "ftp",
    "krb5": "krb5",
}
# rule protocols Suricata knows and Tocsin has no parser for
OTHER_PROTOS = frozenset(
    {
        "sctp", "ipv4", "ip4", "ipv6", "ip6", "udp-pkt", "http2", "ftp-data", "smtp",
        "imap", "pop3", "snmp", "nfs", "modbus", "dnp3", "enip", "sip", "mqtt", "quic",
        "ike", "ikev2", "rfb", "pgsql", "telnet", "tftp", "ntp", "bittorrent-dht", "websocket",
        "ldap", "doh2", "mdns", "template", "http_any",
    }
)  # fmt: skip

# app-layer-protocol values: Tocsin's protocols; Suricata's others are valid but never seen
APP_LAYER_VALUES: dict[str, str] = {**APP_PROTOS, "failed": "failed", "unknown": ""}

ACTIONS = frozenset({"alert", "pass", "drop", "reject", "rejectsrc", "rejectdst", "rejectboth"})
OTHER_ACTIONS = frozenset({"config", "accept"})

# every keyword name (and alias) of Suricata 7 / 8, from `suricata --list-keywords`
SURICATA_KEYWORDS = frozenset(
    """
    sid rev gid msg classtype priority reference metadata target tag threshold
    detection_filter noalert content uricontent nocase depth offset distance within
    startswith endswith fast_pattern rawbytes isdataat bsize urilen pcre byte_test byte_jump
    byte_extract byte_math dsize ttl itype icode icmp_id icmp_seq ip_proto ipopts fragbits
    fragoffset flags tcp.flags seq ack window tcp.window id tos sameip stream_size flow
    flow.age flow.pkts flow.bytes flowbits flowint flowvar pktvar xbits hostbits app-layer-protocol
    app-layer-event app-layer-state decode-event engine-event stream-event pkt_data file_data
    file.data base64_decode base64_data lua luajit luaxform dataset datarep iprep geoip replace
    config prefilter requires ftpbounce ftpdata_command ftp.dynamic_port ftp.command
    ftp.command_data ftp.completion_code ftp.reply ftp.mode ftp.reply_received asn1 rpc
    dce_iface dce_opnum dce_stub_data filename file.name fileext filemagic file.magic filemd5
    filesha1 filesha256 filesize filestore tls.store ssl_version ssl_state tls.version
    tls.subject tls.issuerdn tls.fingerprint tls.cert_notbefore tls_cert_notbefore
    tls.cert_notafter tls_cert_notafter tls.cert_expired tls_cert_expired tls.cert_valid
    tls_cert_valid tls.cert_chain_len tls.subjectaltname tls.random tls.random_time
    tls.random_bytes tls.alpn tls.sni tls_sni tls.certs tls.cert_subject tls_cert_subject
    tls.cert_issuer tls_cert_issuer tls.cert_serial tls_cert_serial tls.cert_fingerprint
    tls_cert_fingerprint ja3.hash ja3_hash ja3.string ja3_string ja3s.hash ja3s.string
    ja4.hash ssh.proto ssh_proto ssh.software ssh_software ssh.protoversion
    ssh.softwareversion ssh.hassh ssh.hassh.string ssh.hassh.server ssh.hassh.server.string
    dns.query dns_query dns.opcode dns.rcode dns.rrtype dns.answer.name dns.query.name
    dns.queries.rrname dns.answers.rrname dns.authorities.rrname dns.additionals.rrname
    dns.response.rrname http_uri http.uri http_raw_uri http.uri.raw http_method http.method
    http_header http.header http_raw_header http.header.raw http_cookie http.cookie
    http_user_agent http.user_agent http_host http.host http_raw_host http.host.raw
    http_client_body http.request_body http_server_body http.response_body http_stat_code
    http.stat_code http_stat_msg http.stat_msg http_request_line http.request_line
    http_response_line http.response_line http.protocol http_protocol http.start http_start
    http.header_names http_header_names http.accept http_accept http.accept_enc
    http_accept_enc http.accept_lang http_accept_lang http.referer http_referer
    http.connection http_connection http.content_type http_content_type http.content_len
    http_content_len http.server http_server http.location http_location
    http.request_header http.response_header http2.frametype http2.errorcode http2.priority
    http2.window http2.size_update http2.settings http2.header_name http2.header
    smb.named_pipe smb.share smb.ntlmssp_user smb.ntlmssp_domain smb.version smb_named_pipe
    smb_share smb_ntlmssp_user smb_ntlmssp_domain
    krb5_cname krb5.cname krb5_sname krb5.sname krb5_err_code krb5_msg_type
    krb5.ticket_encryption krb5.weak_encryption sip.method sip.uri sip.protocol
    sip.stat_code sip.stat_msg sip.request_line sip.response_line sip.from sip.to sip.via
    sip.user_agent sip.content_type sip.content_length rfb.name rfb.secresult rfb.sectype
    snmp.version snmp.community snmp.pdu_type snmp.usm quic.sni quic.ua quic.version
    quic.cyu.hash quic.cyu.string mqtt.protocol_version mqtt.type mqtt.flags mqtt.qos
    mqtt.reason_code mqtt.connack.session_present mqtt.connect.clientid mqtt.connect.flags
    mqtt.connect.password mqtt.connect.protocol_string mqtt.connect.username
    mqtt.connect.willmessage mqtt.connect.willtopic mqtt.publish.message mqtt.publish.topic
    mqtt.subscribe.topic mqtt.unsubscribe.topic ike.init_spi ike.resp_spi ike.chosen_sa_attribute
    ike.exchtype ike.vendor ike.key_exchange_payload ike.key_exchange_payload_length
    ike.nonce_payload ike.nonce_payload_length nfs_procedure nfs.procedure nfs.version
    modbus dnp3_func dnp3.func dnp3_ind dnp3.ind dnp3_obj dnp3.obj dnp3_data dnp3.data
    cip_service enip_command enip.command enip.status enip.product_name enip.service_name
    dhcp.leasetime dhcp.rebinding_time dhcp.renewal_time pgsql.query websocket.payload
    websocket.flags websocket.mask websocket.opcode ldap.request.operation
    ldap.responses.operation ldap.responses.count ldap.request.dn ldap.responses.dn
    ldap.responses.result_code ldap.responses.message ldap.request.attribute_type
    ldap.responses.attribute_type email.from email.subject email.to email.cc email.date
    email.message_id email.x_mailer email.url email.received smtp.helo smtp.mail_from
    smtp.rcpt_to vlan.id vlan.layers tcp.hdr tcp.mss udp.hdr ipv4.hdr ipv6.hdr icmpv4.hdr
    icmpv6.hdr icmpv6.mtu ipv4-csum tcpv4-csum tcpv6-csum udpv4-csum udpv6-csum
    icmpv4-csum icmpv6-csum l3_proto mark frame bypass entropy compress_whitespace
    strip_whitespace strip_pseudo_headers to_md5 to_sha1 to_sha256 to_lowercase
    to_uppercase header_lowercase dotprefix domain tld url_decode xor pcrexform
    from_base64 template template2 bittorrent-dht.announce_peer.info_hash
    bittorrent-dht.error.code bittorrent-dht.transaction_id tls.cert_chain tls_store
    """.split()  # noqa: SIM905 (a word list reads better than 400 quoted strings)
)
