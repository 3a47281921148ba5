"""Application payloads for generated traffic: each module builds one protocol's bytes.

A builder returns `Turn`s (who sends what, after how long); `wire` cuts them into packets.
Payloads are synthetic: names, identifiers and clinical content are made up from the seed.
"""
