"""Autotask's JSON ``filter`` language compiled to predicates and id bounds."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final, NamedTuple

from psad.simulators.autotask.errors import QueryError
from psad.simulators.id_plan import Bound, Plan, Predicate, narrowed


class Field(NamedTuple):
    get: Callable[[Any], Any]
    kind: str
    """"int", "str", "bool" or "datetime"."""
    name: str = ""


_OPS: Final = frozenset({"eq", "noteq", "gt", "gte", "lt", "lte", "beginswith", "endswith",
                         "contains", "exist", "notexist", "in", "notin"})


def json_key(mapping: Mapping[str, Any], name: str) -> Any:
    """A JSON key looked up case-insensitively (Autotask ignores key case)."""
    if name in mapping:
        return mapping[name]
    folded = name.lower()
    return next((v for k, v in mapping.items() if k.lower() == folded), None)


def _coerce(value: Any, kind: str, name: str) -> Any:
    if value is None:
        return None
    try:
        if kind == "int":
            if isinstance(value, bool) or str(value).lower() in ("true", "false"):
                # An integer flag (contact isActive is 0/1) compared with a boolean: coerced.
                return int(value is True or str(value).lower() == "true")
            return int(value)
        if kind == "bool":
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("true", "false", "1", "0"):
                return str(value).lower() in ("true", "1")
            raise ValueError
        if kind == "datetime":
            moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
            return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
        return str(value).casefold()
    except ValueError:
        raise QueryError(f"The value '{value}' is not valid for field {name}.") from None


def _norm(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "str":
        return str(value).casefold()
    if kind == "int" and isinstance(value, bool):
        return int(value)
    return value


class FilterCompiler:
    def __init__(self, fields: Mapping[str, Field], entity: str,
                 udf: Callable[[str], Field] | None) -> None:
        self.fields = fields
        self.entity = entity
        self.udf = udf

    def compile(self, node: Any) -> Predicate:
        if not isinstance(node, dict):
            raise QueryError("Each filter must be an object.")
        op = str(json_key(node, "op") or "").lower()
        if op in ("and", "or"):
            items = json_key(node, "items")
            if not isinstance(items, list) or not items:
                raise QueryError(f"The '{op}' filter needs items.")
            parts = [self.compile(item) for item in items]
            if op == "and":
                return lambda r: all(p(r) for p in parts)
            return lambda r: any(p(r) for p in parts)
        if op not in _OPS:
            raise QueryError(f"The operator '{op}' is not supported.")
        return self.comparison(op, node)

    def field(self, name: str, is_udf: bool) -> Field:
        if is_udf:
            if self.udf is None:
                raise QueryError(f"The {self.entity} entity has no user-defined fields.")
            return self.udf(name)
        found = self.fields.get(name.lower())
        if found is None:
            raise QueryError(f"Unable to find the field {name} in the {self.entity} entity.")
        return found

    def comparison(self, op: str, node: Mapping[str, Any]) -> Predicate:
        name = json_key(node, "field")
        if not isinstance(name, str) or not name:
            raise QueryError("A filter needs a field.")
        get, kind, _ = self.field(name, bool(json_key(node, "udf")))
        if op == "exist":
            return lambda r: get(r) not in (None, "")
        if op == "notexist":
            return lambda r: get(r) in (None, "")
        raw = json_key(node, "value")
        if op in ("in", "notin"):
            if not isinstance(raw, list):
                raise QueryError(f"The '{op}' operator needs a list of values.")
            wanted = frozenset(_coerce(v, kind, name) for v in raw)
            if op == "in":
                return lambda r: _norm(get(r), kind) in wanted
            return lambda r: _norm(get(r), kind) not in wanted
        value = _coerce(raw, kind, name)
        if op in ("beginswith", "endswith", "contains"):
            text = str(raw).casefold()
            test: Callable[[str], bool] = {
                "beginswith": lambda v: v.startswith(text),
                "endswith": lambda v: v.endswith(text),
                "contains": lambda v: text in v}[op]
            return lambda r: (v := get(r)) is not None and test(str(v).casefold())
        if op == "eq":
            return lambda r: _norm(get(r), kind) == value
        if op == "noteq":
            return lambda r: _norm(get(r), kind) != value
        if value is None:
            raise QueryError(f"The '{op}' operator needs a value.")
        compare: Callable[[Any, Any], bool] = {
            "gt": lambda a, b: a > b, "gte": lambda a, b: a >= b,
            "lt": lambda a, b: a < b, "lte": lambda a, b: a <= b}[op]
        return lambda r: (v := _norm(get(r), kind)) is not None and compare(v, value)


def _id_bound(node: Any) -> Bound | None:
    if not isinstance(node, dict) or str(json_key(node, "field") or "").lower() != "id":
        return None
    if json_key(node, "udf"):
        return None
    value = json_key(node, "value")
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return {"gt": (number + 1, None), "gte": (number, None), "lt": (None, number - 1),
            "lte": (None, number), "eq": (number, number)}.get(str(json_key(node, "op")).lower())


def plan_filter(items: Any, compiler: FilterCompiler) -> Plan:
    if not isinstance(items, list) or not items:
        raise QueryError("A query needs a filter: at least one filter expression is required.")
    bounds: list[Bound] = []
    rest = []
    for node in items:
        bound = _id_bound(node)
        if bound is None:
            rest.append(compiler.compile(node))
        else:
            bounds.append(bound)
    low, high = narrowed(bounds)
    residual: Predicate | None = None
    if len(rest) == 1:
        residual = rest[0]
    elif rest:
        residual = lambda r: all(p(r) for p in rest)  # noqa: E731
    return Plan(low, high, residual)
