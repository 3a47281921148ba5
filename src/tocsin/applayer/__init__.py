"""Application layer: protocol detection by content (compiled probes) and sans-io parsers.

`protos` numbers the protocols, `probe` recognises them from a flow's first payload bytes inside
the flow kernel, `base` is the contract every parser (`dns/`, `http/`, `tls/`...) follows, and
`registry` says which parser class serves which protocol.
"""
