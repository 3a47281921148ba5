"""The correlator: per-host and per-site detectors over flow and app-layer events."""
