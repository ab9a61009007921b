"""Query parameters: the filter plan, ``orderBy``, page and forward-only paging,
the ``Link`` header and ``fields`` projection."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple
from urllib.parse import quote, urlencode

from aiohttp import web

from psad.simulators.connectwise.conditions import (
    BadQuery,
    Field,
    any_child_matches,
    compile_filter,
    lookup_field,
    plan_conditions,
)
from psad.simulators.connectwise.config import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Wire
from psad.simulators.connectwise.resources import CUSTOM_ENTRY_FIELDS, Resource
from psad.simulators.id_plan import Plan, Predicate


def int_param(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise BadQuery(f"{name} must be an integer", field=name) from None


def filter_plan(request: web.Request, resource: Resource) -> Plan:
    """``conditions`` as an id range and a residual, narrowed by ``childConditions`` and
    ``customFieldConditions`` (a record matches when one of its custom fields does)."""
    plan = plan_conditions(request.query.get("conditions"), resource.fields)
    extra: list[Predicate] = []
    child = request.query.get("childConditions")
    if child is not None and child.strip():
        extra.append(any_child_matches(child, resource.child_fields or {}))
    custom = request.query.get("customFieldConditions")
    if custom is not None and custom.strip():
        matches = compile_filter(custom, CUSTOM_ENTRY_FIELDS, "customFieldConditions")
        values = resource.custom_values or (lambda r: ())
        extra.append(lambda r: any(matches(e) for e in values(r)))
    if not extra:
        return plan
    parts = extra if plan.residual is None else [plan.residual, *extra]
    return Plan(plan.low, plan.high, parts[0] if len(parts) == 1 else lambda r: all(p(r) for p in parts))


def page_size(request: web.Request) -> int:
    size = int_param(request, "pageSize", DEFAULT_PAGE_SIZE)
    return DEFAULT_PAGE_SIZE if size < 1 else min(size, MAX_PAGE_SIZE)


class SortKey(NamedTuple):
    name: str
    field: Field
    descending: bool


def order_keys(text: str | None, fields: Mapping[str, Field]) -> list[SortKey]:
    """``orderBy`` as sort keys; empty means id ascending."""
    if text is None or not text.strip():
        return []
    keys = []
    for part in text.split(","):
        words = part.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
            raise BadQuery(f"Invalid orderBy '{part.strip()}'", field="orderBy")
        name, found = lookup_field(fields, words[0], "orderBy")
        keys.append(SortKey(name, found, len(words) == 2 and words[1].lower() == "desc"))
    return keys


def _sort(ids: list[int], table: Mapping[int, Any], keys: list[SortKey]) -> list[int]:
    for _, (get, kind), descending in reversed(keys):
        def key(i: int, get: Callable[[Any], Any] = get, kind: str = kind) -> tuple[bool, Any]:
            value = get(table[i])
            if value is None:
                return (not descending, 0)
            return (descending, value.casefold() if kind == "str" else value)
        ids.sort(key=key, reverse=descending)
    return ids


class Selection(NamedTuple):
    """Matching ids as ``ids[start:stop]`` (no copy for plain id ranges)."""

    ids: Sequence[int]
    start: int
    stop: int
    reverse: bool = False

    @property
    def total(self) -> int:
        return self.stop - self.start

    def page(self, offset: int, size: int) -> Sequence[int]:
        if self.reverse:
            hi = max(self.stop - offset, self.start)
            return self.ids[max(hi - size, self.start):hi][::-1]
        lo = min(self.start + offset, self.stop)
        return self.ids[lo:min(lo + size, self.stop)]


def select(table: Mapping[int, Any], ids: Sequence[int], plan: Plan, keys: list[SortKey]) -> Selection:
    start, stop = plan.bounds(ids)
    by_id = not keys or (len(keys) == 1 and keys[0].name == "id")
    if plan.residual is None and by_id:
        return Selection(ids, start, stop, reverse=bool(keys) and keys[0].descending)
    residual = plan.residual
    chosen = [i for i in ids[start:stop] if residual(table[i])] if residual else list(ids[start:stop])
    if keys:
        chosen = _sort(chosen, table, keys)
    return Selection(chosen, 0, len(chosen))


def forward_page(table: Mapping[int, Any], ids: Sequence[int], plan: Plan, after: int,
                 size: int) -> tuple[list[int], bool]:
    """Up to ``size`` matching ids above ``after``, and whether more follow."""
    start, stop = plan.bounds(ids)
    start = max(start, bisect_right(ids, after))
    if plan.residual is None:
        return list(ids[start:min(start + size, stop)]), start + size < stop
    found: list[int] = []
    for position in range(start, stop):
        record_id = ids[position]
        if plan.residual(table[record_id]):
            if len(found) == size:
                return found, True
            found.append(record_id)
    return found, False


def page_url(request: web.Request, **last: int) -> str:
    """This request's URL with ``page``/``pageId`` dropped and ``last`` appended at the end."""
    pairs = [(k, v) for k, v in request.query.items() if k.lower() not in ("page", "pageid")]
    pairs.extend((k, str(v)) for k, v in last.items())
    return f"{request.url.with_query(None)}?{urlencode(pairs, quote_via=quote)}"


def link_header(request: web.Request, page: int, last_page: int) -> str:
    rels = []
    if page > 1:
        rels.append((1, "first"))
        rels.append((min(page - 1, max(last_page, 1)), "prev"))
    if page < last_page:
        rels.append((page + 1, "next"))
        rels.append((last_page, "last"))
    return ", ".join(f'<{page_url(request, page=n)}>; rel="{rel}"' for n, rel in rels)


def fields_tree(text: str | None) -> dict[str, Any] | None:
    if text is None or not text.strip():
        return None
    tree: dict[str, Any] = {}
    for path in text.split(","):
        node = tree
        parts = [p.strip() for p in path.strip().split("/") if p.strip()]
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        if parts:
            node[parts[-1]] = None
    return tree


def project(wire: Mapping[str, Any], tree: Mapping[str, Any]) -> Wire:
    out: Wire = {}
    for key, sub in tree.items():
        if key not in wire:
            continue
        value = wire[key]
        if sub is None or value is None:
            out[key] = value
        elif isinstance(value, dict):
            out[key] = project(value, sub)
        elif isinstance(value, list):
            out[key] = [project(v, sub) if isinstance(v, dict) else v for v in value]
    return out
