"""Suricata's rule language: rule files parsed into `detect.model.Rule` records.

Stages, one module each: `lexer` (files into rules, a rule into header and options),
`address` (addresses, ports, variables), `classification` (classtypes), `values` (numbers),
`content` / `payload` / `meta` / `flowopts` (keyword values), `keywords` (the vocabulary:
buffers, protocols, Suricata's keyword names), `options` (value syntax and the keyword table),
`builder` (options applied in order), `validate` (whole-rule checks), `parser` (one rule),
`loader` (files into a RuleSet).

A rule that cannot be loaded is never fatal: it is a `RuleError(reason, keyword)`, recorded
by the loader as a `model.Skipped`. Keywords Suricata knows and Tocsin does not implement are
reported with the reason "keyword not supported".
"""

from tocsin.detect.rules.address import RuleVars, parse_address, parse_port
from tocsin.detect.rules.classification import ClassType, load_classification
from tocsin.detect.rules.errors import NOT_SUPPORTED, RuleError, RuleFileError
from tocsin.detect.rules.loader import load_rules
from tocsin.detect.rules.parser import RuleParser, parse_rule

__all__ = [
    "NOT_SUPPORTED",
    "ClassType",
    "RuleError",
    "RuleFileError",
    "RuleParser",
    "RuleVars",
    "load_classification",
    "load_rules",
    "parse_address",
    "parse_port",
    "parse_rule",
]
