"""Rule variables from a YAML file: a suricata.yaml, or any YAML with Suricata's `vars:`
section (`address-groups`: HOME_NET, EXTERNAL_NET...; `port-groups`: HTTP_PORTS...)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tocsin.detect.rules.address import RuleVars


class VarsFileError(Exception):
    """The variables file cannot be used (message names the file and the problem)."""


def read_vars_file(path: Path) -> RuleVars:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise VarsFileError(f"{path}: cannot read variables: {exc.strerror}") from None
    if text.startswith("%YAML"):  # suricata.yaml's header line, which PyYAML refuses
        text = text.split("\n", 1)[1] if "\n" in text else ""
    try:
        doc: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise VarsFileError(f"{path}: not valid YAML{where}: {problem}") from None
    if not isinstance(doc, dict):
        raise VarsFileError(f"{path}: expected a YAML mapping with a 'vars:' section")
    try:
        return RuleVars.from_yaml_dict(doc)
    except (ValueError, TypeError) as exc:
        raise VarsFileError(f"{path}: {exc}") from None
