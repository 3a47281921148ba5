"""IMAP (TCP): a sans-io stream parser giving Tocsin's own `imap` events (`parser.ImapParser`)."""

from tocsin.applayer.imap.parser import ImapParser

__all__ = ["ImapParser"]
