"""HTTP/1.0 and 1.1: per-flow parser (`parser`), heads (`message`), bodies (`body`),
transactions and their EVE records (`transaction`, `model.http`)."""

from tocsin.applayer.http.parser import HttpParser
from tocsin.applayer.http.transaction import (
    DEFAULT_REQUEST_HEADERS,
    DEFAULT_RESPONSE_HEADERS,
    HttpTransaction,
)

__all__ = ["DEFAULT_REQUEST_HEADERS", "DEFAULT_RESPONSE_HEADERS", "HttpParser", "HttpTransaction"]
