"""Tocsin's EVE JSON Schema, generated from the record types in `model.events`.

The committed copy (`output/schema/tocsin-eve.schema.json`) is the published contract;
`tocsin schema --check` and a test fail when it differs from what the code generates.
"""

from __future__ import annotations

import json
from pathlib import Path

import msgspec

from tocsin.model.events import Event
from tocsin.model.exercise import ExerciseMark

SCHEMA_PATH = Path(__file__).with_name("schema") / "tocsin-eve.schema.json"


def generate() -> str:
    """The schema document as stable, pretty-printed JSON text (ending in a newline)."""
    schema = msgspec.json.schema(Event)
    # every event of an exercise replay carries `exercise` (written by the sink, not a field
    # of the records: see model.exercise)
    (mark,), defs = msgspec.json.schema_components([ExerciseMark], ref_template="#/$defs/{name}")
    schema["$defs"].update(defs)
    for d in schema["$defs"].values():
        if "event_type" in d.get("properties", {}):
            d["properties"]["exercise"] = mark
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Tocsin EVE event"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"
