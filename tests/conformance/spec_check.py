"""The vendored OpenAPI subsets (specs/) as checks: responses and requests against the spec.

``Spec.for_kind(kind)`` loads ``specs/{kind}.json`` with the recorded deviations
(``deviations.py``) applied, finds the operation a simulator request path maps to,
and checks a response body against the operation's 200 schema (strictly: a key the
schema does not declare is a finding) or a request's query and body against its
parameters and request body.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from deviations import DEVIATIONS, camel_case

SPECS = Path(__file__).parent / "specs"


@dataclass(frozen=True)
class Vendor:
    kind: str
    api_root: str
    """A regular expression for the part of a simulator path the spec's paths leave out."""
    case_insensitive: bool = False


VENDORS = {v.kind: v for v in (
    Vendor("connectwise", r"^/v4_6_release/apis/3\.0"),
    Vendor("autotask", r"^(/[^/]+)?/ATServicesRest", case_insensitive=True),
    Vendor("kaseya_bms", r"^", case_insensitive=True),
    Vendor("syncro", r"^/api/v1"),
    Vendor("halo", r"^/api", case_insensitive=True),
)}


def to_json_schema(node: Any, projected: bool = False) -> Any:
    """OpenAPI 3.0 schema objects as JSON Schema (draft 4): ``nullable`` becomes a null type,
    an object that lists properties admits no others (the strict reading), and
    ``projected`` drops required keys."""
    if isinstance(node, list):
        return [to_json_schema(n, projected) for n in node]
    if not isinstance(node, dict):
        return node
    dropped = ("nullable", "example", "examples", "description", "format", "xml",
               *(("required",) if projected else ()))
    out = {k: to_json_schema(v, projected) for k, v in node.items()
           if k not in dropped and k != "properties"}
    if isinstance(node.get("properties"), dict):
        out["properties"] = {name: to_json_schema(sub, projected)
                             for name, sub in node["properties"].items()}
    if "$ref" in out:
        ref = {"$ref": "spec" + out["$ref"]}
        return {"anyOf": [ref, {"type": "null"}]} if node.get("nullable") else ref
    kind = out.get("type")
    if kind == "object" and "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    if node.get("nullable"):
        if isinstance(kind, str):
            out["type"] = [kind, "null"]
        elif "enum" in out:
            out["enum"] = [*out["enum"], None]
        elif kind is None and "allOf" in out:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


class Spec:
    def __init__(self, vendor: Vendor, doc: dict[str, Any]) -> None:
        self.vendor = vendor
        self.doc = doc
        flags = re.IGNORECASE if vendor.case_insensitive else 0
        self.templates = [
            (re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "/?$", flags),
             path) for path in doc["paths"]]
        self.registry, self.projected = (Registry().with_resource("spec", Resource.from_contents(
            {"components": {"schemas": to_json_schema(doc["components"]["schemas"], projected)}},
            default_specification=DRAFT4)) for projected in (False, True))

    @classmethod
    def for_kind(cls, kind: str) -> Spec:
        doc = json.loads((SPECS / f"{kind}.json").read_text())
        for deviation in DEVIATIONS:
            if deviation.vendor == kind:
                deviation.apply(doc)
        return cls(VENDORS[kind], doc)

    def spec_path(self, path: str) -> str:
        return re.sub(self.vendor.api_root, "", path, count=1) or "/"

    def operation(self, method: str, path: str) -> tuple[str, dict[str, Any]] | None:
        """The spec's path template and operation for a simulator request, if declared."""
        wanted = self.spec_path(path)
        for pattern, template in self.templates:
            if pattern.match(wanted):
                op = self.doc["paths"][template].get(method.lower())
                if op is not None:
                    return template, op
        return None

    def validator(self, schema: Any, projected: bool = False) -> jsonschema.Draft4Validator:
        return jsonschema.Draft4Validator(to_json_schema(schema, projected),
                                          registry=self.projected if projected else self.registry)

    def response_errors(self, method: str, path: str, body: Any, *,
                        projected: bool = False) -> list[str]:
        """Findings in a 200 answer; ``projected``: the client asked for some fields only
        (ConnectWise ``fields=``), so the schema's required keys may be absent."""
        found = self.operation(method, path)
        if found is None:
            return [f"{method} {path}: no such operation in the spec"]
        template, op = found
        media = op.get("responses", {}).get("200", {}).get("content", {})
        schema = next((m["schema"] for m in media.values() if "schema" in m), None)
        if schema is None:
            return [f"{method} {template}: the spec declares no 200 response schema"]
        return [f"{method} {template} {_where(e)}: {e.message}"
                for e in self.validator(schema, projected).iter_errors(body)]

    def request_errors(self, method: str, path: str, query: Mapping[str, str],
                       body: str | None, content_type: str) -> list[str]:
        found = self.operation(method, path)
        if found is None:
            return [f"{method} {path}: no such operation in the spec"]
        template, op = found
        params = {p["name"].lower(): p for p in op.get("parameters", []) if p["in"] == "query"}
        errors = []
        for name, value in query.items():
            declared = params.get(name.lower())
            if declared is None:
                errors.append(f"{method} {template}: query parameter {name!r} is not in the spec")
            elif not _fits(declared.get("schema", {}), value):
                errors.append(f"{method} {template}: query {name}={value!r} is not "
                              f"{declared['schema'].get('type')}")
        content = op.get("requestBody", {}).get("content", {})
        if body and content:
            media = content.get(content_type) or next(iter(content.values()))
            if content_type == "application/json":
                parsed: Any = json.loads(body)
                if self.vendor.case_insensitive:
                    parsed = _camel_keys(parsed)
            else:
                parsed = dict(parse_qsl(body))
            if "schema" in media:
                schema = media["schema"]
                if content_type != "application/json":
                    schema = _case_folded(schema, parsed)
                errors += [f"{method} {template} body {_where(e)}: {e.message}"
                           for e in self.validator(schema).iter_errors(parsed)]
        elif body and not content:
            errors.append(f"{method} {template}: sends a body the spec does not declare")
        return errors


_SCALARS = {"integer": r"-?\d+", "int": r"-?\d+", "number": r"-?\d+(\.\d+)?",
            "boolean": r"(?i:true|false)", "bool": r"(?i:true|false)"}


def _fits(schema: Mapping[str, Any], value: str) -> bool:
    """Whether a query value reads as the declared type (the spec's "int"/"bool" included)."""
    kind = schema.get("type")
    if kind == "array":
        return all(_fits(schema.get("items", {}), v) for v in value.split(","))
    pattern = _SCALARS.get(str(kind))
    return pattern is None or re.fullmatch(pattern, value) is not None


def _case_folded(schema: Mapping[str, Any], body: Mapping[str, Any]) -> dict[str, Any]:
    """A form body's schema keyed as the client spelled the fields (form binding ignores
    case) and typed as text, the only type a form field has."""
    props = {k.lower(): k for k in body}
    out = copy.deepcopy(dict(schema))
    out["properties"] = {props.get(k.lower(), k): {"type": "string"}
                         for k in schema.get("properties", {})}
    out["required"] = [props.get(k.lower(), k) for k in schema.get("required", [])]
    return out


def _camel_keys(value: Any) -> Any:
    """JSON keys as the spec spells them, for an API that reads keys case-insensitively
    (Autotask and BMS: ``MaxRecords`` is ``maxRecords``)."""
    if isinstance(value, dict):
        return {camel_case(k): _camel_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel_keys(v) for v in value]
    return value


def _where(error: jsonschema.ValidationError) -> str:
    """Where in the body an error is, array positions folded (one finding per field)."""
    return "/".join("[]" if isinstance(p, int) else str(p) for p in error.absolute_path) or "."
