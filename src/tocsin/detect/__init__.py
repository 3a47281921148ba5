"""Signature detection: Suricata rules parsed (`rules`), matched (`match`) and run over packets
and application-layer transactions (`engine`), with a Hyperscan prefilter (`prefilter`)."""
