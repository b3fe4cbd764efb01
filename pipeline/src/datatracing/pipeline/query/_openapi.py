"""The OpenAPI document: FastAPI's, made to say what the service really answers, and its `/v1` part.

FastAPI documents a 422 for every route with parameters; this service answers 400 instead (the error
envelope), so those answers and their schemas go. An optional query parameter is documented as its
type alone (not "type or null"): omitting it is how a client says "no filter", and `null` is not
a value a query string can carry.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

__all__ = ["service_document", "v1_document", "v1_document_text"]


def service_document(app: FastAPI) -> dict[str, Any]:
    """The whole app's document, with the fixes above."""
    document = get_openapi(title=app.title, version=app.version, routes=app.routes)
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            operation.get("responses", {}).pop("422", None)
            for parameter in operation.get("parameters", []):
                parameter["schema"] = _not_null(parameter.get("schema", {}))
    schemas = document.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    return document


def v1_document(app: FastAPI) -> dict[str, Any]:
    """Only the `/v1` paths of `app`'s document and the schemas they refer to."""
    document = copy.deepcopy(app.openapi())
    paths = {path: item for path, item in document.get("paths", {}).items() if path.startswith("/v1/")}
    schemas = document.get("components", {}).get("schemas", {})
    used: set[str] = set()
    pending = _refs(paths)
    while pending:
        name = pending.pop()
        if name not in used and name in schemas:
            used.add(name)
            pending |= _refs(schemas[name])
    out: dict[str, Any] = {"openapi": document["openapi"], "info": document["info"], "paths": paths}
    if used:
        out["components"] = {"schemas": {name: schemas[name] for name in sorted(used)}}
    return out


def v1_document_text(app: FastAPI) -> str:
    """`v1_document` as the checked-in file holds it (sorted keys, two-space indent, final newline)."""
    return json.dumps(v1_document(app), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    options = schema.get("anyOf")
    if not isinstance(options, list):
        return schema
    kept = [option for option in options if option != {"type": "null"}]
    if len(kept) != 1 or len(kept) == len(options):
        return schema
    rest = {key: value for key, value in schema.items() if key != "anyOf"}
    return {**kept[0], **rest}


def _refs(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            found.add(ref.rsplit("/", 1)[1])
        for value in node.values():
            found |= _refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= _refs(value)
    return found
