"""Tocsin: network threat detection and response for hospitals."""

__version__ = "0.1.0"
