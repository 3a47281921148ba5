"""Evaluation of the detectors against labelled captures (`tocsin eval`).

- `expectations`: the committed ground truth (`eval/expectations.yaml`): per capture, the
  alerts it must raise, with where the truth comes from, and the alerts that are correct but
  not the labelled attack (`explained`).
- `runner`: runs each capture through the whole pipeline in-process and matches the
  detectors' alerts (gid 8) to the expectations.
- `report`: per-detector and per-capture arithmetic (found, missed, extra, precision,
  recall), the targets, and the renderings (rich tables, JSON, Markdown).
"""
