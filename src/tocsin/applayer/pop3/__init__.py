"""POP3 (TCP): a sans-io stream parser giving Suricata's `pop3` events (`parser.Pop3Parser`)."""

from tocsin.applayer.pop3.parser import Pop3Parser

__all__ = ["Pop3Parser"]
