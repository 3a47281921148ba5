"""The parsed indicator set is kept between runs, and never reused once a source changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tocsin.detect.intel._cache import load_intel_cached


def test_a_cached_set_matches_and_a_changed_feed_is_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOCSIN_CACHE_DIR", str(tmp_path / "cache"))
    feed = tmp_path / "feed.txt"
    feed.write_text("evil-example.test\n203.0.113.7\n")
    first = load_intel_cached([feed], use_warninglists=False)
    (entry,) = (tmp_path / "cache" / "intel").glob("*.pickle")
    again = load_intel_cached([feed], use_warninglists=False)
    assert again.domain("a.evil-example.test")
    assert again.stats.indicators == first.stats.indicators == 2
    feed.write_text("evil-example.test\n203.0.113.7\nother-bad.test\n")
    changed = load_intel_cached([feed], use_warninglists=False)
    assert changed.domain("other-bad.test") and not first.domain("other-bad.test")
    entry.write_bytes(b"damaged")  # a damaged entry is rebuilt, not trusted
    feed.write_text("evil-example.test\n203.0.113.7\n")
    assert load_intel_cached([feed], use_warninglists=False).domain("x.evil-example.test")
