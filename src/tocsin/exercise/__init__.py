"""Exercise mode: labelled hospital traffic with attack scenarios, written as a pcap.

`wire` turns conversations into packets (consistent TCP, checksums, pcap), `proto` builds the
application payloads (DNS, TLS, SMB2, Kerberos, DICOM, HL7...), `site` describes a hospital's
hosts, `background` and `scenarios` schedule who talks to whom, and `truth` records what a
defender should see, step by step.
"""
