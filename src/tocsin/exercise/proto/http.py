"""HTTP/1.1 messages (RFC 9112) for generated traffic: requests, responses, keep-alive exchanges.

- `request(method, host, path)`: a request head with `Host`, `User-Agent`, `Accept`,
  `Accept-Encoding`, `Accept-Language`, `Connection`, the caller's `headers` (in order, after
  those), `Authorization` from `auth` (`(user, password)` gives Basic, a string is sent as
  is), and a body framed by `Content-Length` or, with `chunked`, chunked transfer coding.
- `response(status, body)`: a status line (the standard reason phrase unless `reason`),
  `Server`, `Date` (from `date`, epoch seconds, when given), `Content-Type`,
  `Content-Length` or chunked coding, then the caller's `headers`. 1xx, 204 and 304 carry
  neither body nor length; `head=True` answers a HEAD (length announced, no body).
- `unauthorized(scheme, realm)`: a 401 with `WWW-Authenticate` (Basic, NTLM, Negotiate).
- `exchange(rng, pairs)`: `(request, response)` pairs on one keep-alive connection as turns:
  the client's think time before each request after the first and the server's time before
  each response are drawn from `think_s` / `server_s` (uniform, seconds).
- `filler(rng, n, text)`: `n` bytes of body (HTML-looking text or random-looking binary),
  sliced from a pool built once, so large bodies cost a copy, not a random draw per byte.

Everything is bytes in, bytes out; the only randomness is the `rng` argument. Errors:
`ValueError` for a method, path or header that would break the message framing (spaces or
line breaks where they are not allowed).
"""

from __future__ import annotations

import base64
import functools
import random
from collections.abc import Sequence
from email.utils import formatdate

from tocsin.exercise.wire.turns import Turn, client, server

USER_AGENTS: dict[str, str] = {
    "edge": (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0"
    ),
    "firefox": "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "windows": "Microsoft-CryptoAPI/10.0",
    "java": "Java/17.0.9",
    "python": "python-requests/2.31.0",
    "curl": "curl/8.4.0",
    "go": "Go-http-client/1.1",
}
REASONS: dict[int, str] = {
    100: "Continue", 101: "Switching Protocols", 200: "OK", 201: "Created", 204: "No Content",
    206: "Partial Content", 301: "Moved Permanently", 302: "Found", 304: "Not Modified",
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 408: "Request Timeout", 413: "Content Too Large",
    429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Gateway Timeout",
}  # fmt: skip
_POOL_SIZE = 1 << 20
_WORDS = (
    b'<div class="row"><span>service</span> patient dossier planning consultation '
    b'<a href="/portail/agenda">agenda</a> laboratoire imagerie resultats urgences '
    b"pharmacie <p>Centre hospitalier</p> bloc <li>rendez-vous</li> hospitalisation "
    b'\n<script src="/static/app.js"></script> admission sortie <td>unite</td> '
)


def _check(value: str, what: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError(f"HTTP {what} contains a line break: {value!r}")
    return value


def basic_authorization(user: str, password: str) -> str:
    """The `Authorization` value of HTTP Basic (RFC 7617) for `user`/`password`."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def _chunked(body: bytes, size: int) -> bytes:
    parts = []
    for i in range(0, len(body), size):
        chunk = body[i : i + size]
        parts.append(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    parts.append(b"0\r\n\r\n")
    return b"".join(parts)


def _head(start: str, fields: list[tuple[str, str]]) -> bytes:
    lines = [start]
    lines.extend(f"{_check(k, 'field name')}: {_check(v, 'field value')}" for k, v in fields)
    lines.append("\r\n")
    return "\r\n".join(lines).encode("utf-8")


def request(
    method: str,
    host: str,
    path: str = "/",
    *,
    user_agent: str = USER_AGENTS["edge"],
    accept: str = "*/*",
    headers: Sequence[tuple[str, str]] = (),
    body: bytes = b"",
    content_type: str | None = None,
    chunked: bool = False,
    chunk_size: int = 8192,
    auth: tuple[str, str] | str | None = None,
    keep_alive: bool = True,
) -> bytes:
    """An HTTP/1.1 request (see the module docstring); an empty `user_agent` or `accept`
    leaves the field out."""
    if not method.isalpha() or " " in path or not path or "\r" in path or "\n" in path:
        raise ValueError(f"HTTP request line {method!r} {path!r} is not valid")
    fields = [("Host", host)]
    if user_agent:
        fields.append(("User-Agent", user_agent))
    if accept:
        fields.append(("Accept", accept))
    if user_agent.startswith("Mozilla/"):
        fields += [("Accept-Encoding", "gzip, deflate, br"), ("Accept-Language", "fr-FR,fr;q=0.9")]
    fields.append(("Connection", "keep-alive" if keep_alive else "close"))
    fields.extend(headers)
    if auth is not None:
        fields.append(
            ("Authorization", auth if isinstance(auth, str) else basic_authorization(*auth))
        )
    if body or method in ("POST", "PUT", "PATCH"):
        if content_type:
            fields.append(("Content-Type", content_type))
        if chunked:
            fields.append(("Transfer-Encoding", "chunked"))
            return _head(f"{method} {path} HTTP/1.1", fields) + _chunked(body, chunk_size)
        fields.append(("Content-Length", str(len(body))))
    return _head(f"{method} {path} HTTP/1.1", fields) + body


def response(
    status: int,
    body: bytes = b"",
    *,
    content_type: str = "text/html; charset=utf-8",
    headers: Sequence[tuple[str, str]] = (),
    server: str = "Microsoft-IIS/10.0",
    date: float | None = None,
    reason: str | None = None,
    chunked: bool = False,
    chunk_size: int = 8192,
    head: bool = False,
    keep_alive: bool = True,
) -> bytes:
    """An HTTP/1.1 response (see the module docstring); an empty `server` leaves it out."""
    if not 100 <= status <= 999:
        raise ValueError(f"HTTP status {status} is not 3 digits")
    phrase = _check(reason if reason is not None else REASONS.get(status, "Unknown"), "reason")
    fields: list[tuple[str, str]] = []
    if server:
        fields.append(("Server", server))
    if date is not None:
        fields.append(("Date", formatdate(date, usegmt=True)))
    bodiless = status < 200 or status in (204, 304)
    if not bodiless:
        if body or status != 200:
            fields.append(("Content-Type", content_type))
        if chunked and not head:
            fields.append(("Transfer-Encoding", "chunked"))
        else:
            fields.append(("Content-Length", str(len(body))))
    if not keep_alive:
        fields.append(("Connection", "close"))
    fields.extend(headers)
    start = _head(f"HTTP/1.1 {status} {phrase}", fields)
    if bodiless or head:
        return start
    return start + (_chunked(body, chunk_size) if chunked else body)


def unauthorized(
    scheme: str = "Basic",
    realm: str = "Intranet",
    *,
    server: str = "Microsoft-IIS/10.0",
    date: float | None = None,
) -> bytes:
    """A 401 asking for `scheme` credentials: Basic (with `realm`), NTLM or Negotiate (IIS
    offers both, as Windows integrated authentication does)."""
    if scheme == "Basic":
        challenges = [("WWW-Authenticate", f'Basic realm="{realm}"')]
    elif scheme in ("NTLM", "Negotiate"):
        challenges = [("WWW-Authenticate", "Negotiate"), ("WWW-Authenticate", "NTLM")]
    else:
        challenges = [("WWW-Authenticate", scheme)]
    page = b"<html><head><title>401 - Unauthorized</title></head><body>Access denied.</body></html>"
    return response(401, page, headers=challenges, server=server, date=date)


@functools.lru_cache(maxsize=2)
def _pool(text: bool) -> bytes:
    """A fixed 1 MiB pool of body bytes (the same in every run)."""
    if text:
        return (_WORDS * (_POOL_SIZE // len(_WORDS) + 1))[:_POOL_SIZE]
    return random.Random(0x48545450).randbytes(_POOL_SIZE)


def filler(rng: random.Random, n: int, text: bool = False) -> bytes:
    """`n` bytes of body: HTML-looking text or random-looking (compressed, encrypted) bytes."""
    pool = _pool(text)
    if n <= 0:
        return b""
    out = []
    while n > 0:
        take = min(n, _POOL_SIZE // 2)
        at = rng.randrange(_POOL_SIZE - take + 1)
        out.append(pool[at : at + take])
        n -= take
    return b"".join(out)


def exchange(
    rng: random.Random,
    pairs: Sequence[tuple[bytes, bytes]],
    *,
    think_s: tuple[float, float] = (0.05, 1.5),
    server_s: tuple[float, float] = (0.005, 0.08),
) -> list[Turn]:
    """Request/response pairs on one keep-alive connection, in order, as turns."""
    turns: list[Turn] = []
    for i, (req, resp) in enumerate(pairs):
        turns.append(client(req, rng.uniform(*think_s) if i else 0.0))
        turns.append(server(resp, rng.uniform(*server_s)))
    return turns
