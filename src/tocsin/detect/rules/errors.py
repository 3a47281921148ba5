"""The rule parser's two error types.

`RuleError` is one rule that does not load: the loader records it as a `model.Skipped` and
goes on with the next rule. `RuleFileError` is a file that cannot be read at all: the loader
raises it (the caller decides; the CLI prints it and exits 2).
"""

from __future__ import annotations

# the reason given for a keyword Suricata knows and Tocsin does not implement: rule authors
# and `tocsin rules check` read this exact string
NOT_SUPPORTED = "keyword not supported"


class RuleError(Exception):
    """A rule that cannot be loaded.

    `keyword` names what was wrong: an option keyword (`content`, `pcre`...), a header field
    (`action`, `protocol`, `address`, `port`, `direction`), or "" for the rule's syntax.
    """

    def __init__(self, reason: str, keyword: str = "") -> None:
        super().__init__(f"{keyword}: {reason}" if keyword else reason)
        self.reason = reason
        self.keyword = keyword


class RuleFileError(Exception):
    """A rule file (or classification file) that cannot be read; the message names it."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem
