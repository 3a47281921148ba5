"""Packets on the wire for generated traffic: conversations in, a valid pcap out.

- `turns`: `Turn`, the unit between payload builders (`exercise.proto`) and the wire;
- `hosts`: `Host` (address, MAC, VLAN, TTL) and `EphemeralPorts`;
- `trace`: `Trace`, the public entry (TCP connections, scan probes; `dgram` adds UDP, ICMP,
  ARP; `store` keeps the packets and flushes them, time-ordered, to a pcap stream);
- `tcpconv`, `pcapout`: the compiled kernels (TCP connection expansion; headers, checksums
  and pcap records); `quote`: the packet an ICMP error quotes.
"""
