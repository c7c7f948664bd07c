"""The published JSON Schema (Draft 2020-12), generated from the Pydantic models.

``schemas/netspec.schema.json`` is this function's output, committed; a test
fails when the two differ (regenerate with ``netspec schema >
schemas/netspec.schema.json``). The schema covers structure only: shape rules
(widths, parameter budgets) and lints live in :mod:`netspec.infer`.

One known difference: JSON Schema counts ``3.0`` as an integer, netspec does
not (a neuron count is written ``3``).
"""

from __future__ import annotations

import json
from typing import Any

from .spec import SCHEMA_ID, Spec

DRAFT = "https://json-schema.org/draft/2020-12/schema"


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a spec, with every registered component."""
    schema = Spec.model_json_schema(by_alias=True)
    return {
        "$schema": DRAFT,
        "$id": SCHEMA_ID,
        "title": "netspec",
        "description": "A neural network described as data (netspec language version 1).",
        **{k: v for k, v in schema.items() if k not in ("title", "description")},
    }


def json_schema_text() -> str:
    """The schema as the committed file holds it: sorted keys, two-space indent, final newline."""
    return json.dumps(json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
