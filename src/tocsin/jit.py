"""The one way Tocsin compiles a hot-path kernel (numba), so every kernel gets the same flags.

- `cache=True`: compiled once per machine, loaded from `__pycache__` afterwards.
- `_nrt=False`: kernels never allocate; they work on arrays their Python caller owns. Without
  numba's reference-counting runtime, calls between kernels pass arrays without atomic
  increments and decrements — measured here: the decoder went from ~195 to ~41 ns a packet.
  A kernel that tries to allocate (np.empty, a list...) fails to compile, which is the point.
- `nogil=True`: a kernel releases the GIL while it runs, so the EVE writer thread formats
  flows on the second core while the main thread decodes the next batch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numba

_njit: Any = numba.njit  # `_nrt` is not in numba's type stubs


def kernel(fn: Callable[..., Any]) -> Any:
    """Compile `fn` as a non-allocating, cached numba function (a numba Dispatcher)."""
    return _njit(cache=True, _nrt=False, nogil=True)(fn)


def inline_kernel(fn: Callable[..., Any]) -> Any:
    """Like `kernel`, inlined into its callers at numba's IR level (small helpers)."""
    return _njit(cache=True, _nrt=False, nogil=True, inline="always")(fn)
