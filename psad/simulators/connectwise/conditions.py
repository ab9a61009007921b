"""ConnectWise's ``conditions`` query language, for the simulator.

Parses the subset real clients send (comparisons, ``like``, ``contains``,
``in``, ``not``, ``and``/``or``, parentheses, quoted strings, ``[…]`` dates),
compiles it against a resource's fields, and plans id bounds so a keyset page
(``id > N``) is answered with a bisect instead of a scan. ``childConditions``
(over a record's child collections: company types, contact communication items)
and ``customFieldConditions`` (over one custom field entry: ``caption``,
``value``…) use the same grammar; every parameter's errors name it.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final, NamedTuple

from psad.simulators.id_plan import Bound, Plan, Predicate, narrowed


class BadQuery(Exception):
    """A query parameter ConnectWise would refuse; becomes a 400."""

    def __init__(self, message: str, field: str = "conditions") -> None:
        super().__init__(message)
        self.field = field


class Field(NamedTuple):
    get: Callable[[Any], Any]
    kind: str
    """"int", "str", "bool", "datetime" or "any" (a custom field value of any type)."""


# --- conditions grammar ---------------------------------------------------------------------

_TOKEN: Final = re.compile(r"""
    \s*(?:
      (?P<lp>\() | (?P<rp>\)) | (?P<comma>,)
    | (?P<op><=|>=|!=|<>|=|<|>)
    | (?P<str>"(?:[^"\\]|\\.)*")
    | (?P<dt>\[[^\]]*\])
    | (?P<num>-?\d+(?:\.\d+)?)(?![\w/])
    | (?P<word>[A-Za-z_][\w/]*)
    )""", re.VERBOSE)
_KEYWORDS: Final = frozenset({"and", "or", "not", "like", "contains", "in", "true", "false", "null"})


class Cmp(NamedTuple):
    field: str
    op: str
    value: Any


class BoolOp(NamedTuple):
    op: str
    items: tuple[Any, ...]


def tokenize(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise BadQuery(f"Unexpected character at position {pos}: {text[pos:pos + 10]!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


def _parse_datetime(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadQuery(f"Invalid date/time [{text}]") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.pos = 0

    def parse(self) -> Any:
        if not self.tokens:
            raise BadQuery("conditions is empty")
        node = self.expr()
        if self.pos != len(self.tokens):
            raise BadQuery(f"Unexpected {self.tokens[self.pos][1]!r} in conditions")
        return node

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def next(self, what: str) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise BadQuery(f"conditions ended early, expected {what}")
        self.pos += 1
        return token

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token is not None and token[0] == "word" and token[1].lower() == word:
            self.pos += 1
            return True
        return False

    def expr(self) -> Any:
        items = [self.term()]
        while self.keyword("or"):
            items.append(self.term())
        return items[0] if len(items) == 1 else BoolOp("or", tuple(items))

    def term(self) -> Any:
        items = [self.factor()]
        while self.keyword("and"):
            items.append(self.factor())
        return items[0] if len(items) == 1 else BoolOp("and", tuple(items))

    def factor(self) -> Any:
        token = self.peek()
        if token is not None and token[0] == "lp":
            self.pos += 1
            node = self.expr()
            if self.next("')'")[0] != "rp":
                raise BadQuery("Expected ')' in conditions")
            return node
        return self.comparison()

    def comparison(self) -> Cmp:
        kind, name = self.next("a field name")
        if kind != "word" or name.lower() in _KEYWORDS:
            raise BadQuery(f"Expected a field name, found {name!r}")
        negate = self.keyword("not")
        kind, op = self.next("an operator")
        if kind == "op" and not negate:
            return Cmp(name, "!=" if op == "<>" else op, self.value())
        word = op.lower()
        if kind == "word" and word in ("like", "contains"):
            return Cmp(name, f"not {word}" if negate else word, self.value())
        if kind == "word" and word == "in":
            return Cmp(name, "not in" if negate else "in", self.value_list())
        raise BadQuery(f"Unknown operator {op!r} after {name}")

    def value(self) -> Any:
        kind, text = self.next("a value")
        if kind == "str":
            return re.sub(r"\\(.)", r"\1", text[1:-1])
        if kind == "num":
            return float(text) if "." in text else int(text)
        if kind == "dt":
            return _parse_datetime(text[1:-1])
        if kind == "word" and text.lower() in ("true", "false"):
            return text.lower() == "true"
        if kind == "word" and text.lower() == "null":
            return None
        raise BadQuery(f"Expected a value, found {text!r}")

    def value_list(self) -> tuple[Any, ...]:
        if self.next("'('")[0] != "lp":
            raise BadQuery("Expected '(' after in")
        values = [self.value()]
        while True:
            kind, _ = self.next("',' or ')'")
            if kind == "rp":
                return tuple(values)
            if kind != "comma":
                raise BadQuery("Expected ',' or ')' in list")
            values.append(self.value())


def parse_conditions(text: str) -> Any:
    """The syntax tree of a ``conditions`` string; raises :class:`BadQuery`."""
    return _Parser(text).parse()


_ORDERING: Final = {"=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
                    ">": operator.gt, ">=": operator.ge}
_KIND_TYPES: Final[dict[str, tuple[type, ...]]] = {
    "int": (int, float), "str": (str,), "bool": (bool,), "datetime": (datetime,), "any": (object,)}


def lookup_field(fields: Mapping[str, Field], name: str, param: str = "conditions") -> tuple[str, Field]:
    """The field's canonical name and accessor (names match case-insensitively)."""
    if name in fields:
        return name, fields[name]
    folded = name.casefold()
    for known, found in fields.items():
        if known.casefold() == folded:
            return known, found
    raise BadQuery(f"Unknown field '{name}'", field=param)


def _check_value(name: str, kind: str, value: Any) -> None:
    if value is None or kind == "any":
        return
    if isinstance(value, _KIND_TYPES[kind]) and (kind == "bool" or not isinstance(value, bool)):
        return
    shown = f"[{value.isoformat()}]" if isinstance(value, datetime) else repr(value)
    raise BadQuery(f"Value {shown} is not valid for field '{name}' ({kind})")


def compile_conditions(node: Any, fields: Mapping[str, Field]) -> Predicate:
    if isinstance(node, BoolOp):
        parts = [compile_conditions(item, fields) for item in node.items]
        if node.op == "and":
            return lambda r: all(p(r) for p in parts)
        return lambda r: any(p(r) for p in parts)
    return _compile_cmp(node, fields)


def _compile_cmp(cmp: Cmp, fields: Mapping[str, Field]) -> Predicate:
    _, (get, kind) = lookup_field(fields, cmp.field)
    op, value = cmp.op, cmp.value
    values = value if isinstance(value, tuple) else (value,)
    for v in values:
        _check_value(cmp.field, kind, v)
    if op in ("like", "not like", "contains", "not contains"):
        if kind not in ("str", "any") or not isinstance(value, str):
            raise BadQuery(f"Operator '{op}' needs a string field and value ({cmp.field})")
        if "like" in op:
            pattern = re.escape(value).replace("%", ".*").replace(r"\*", ".*")
        else:
            pattern = ".*" + re.escape(value) + ".*"
        regex = re.compile(pattern, re.IGNORECASE | re.DOTALL)
        if op.startswith("not"):
            return lambda r: isinstance(v := get(r), str) and regex.fullmatch(v) is None
        return lambda r: isinstance(v := get(r), str) and regex.fullmatch(v) is not None
    norm: Callable[[Any], Any] = (
        (lambda v: v.casefold() if isinstance(v, str) else v) if kind in ("str", "any") else (lambda v: v))
    if op in ("in", "not in"):
        wanted = frozenset(norm(v) for v in values if v is not None)
        if op == "in":
            return lambda r: (v := get(r)) is not None and norm(v) in wanted
        return lambda r: (v := get(r)) is not None and norm(v) not in wanted
    if value is None:
        if op not in ("=", "!="):
            raise BadQuery(f"Operator '{op}' cannot compare with null ({cmp.field})")
        return (lambda r: get(r) is None) if op == "=" else (lambda r: get(r) is not None)
    if kind == "bool" and op not in ("=", "!="):
        raise BadQuery(f"Operator '{op}' is not valid for boolean field '{cmp.field}'")
    compare, target = _ORDERING[op], norm(value)
    if kind == "any":
        return lambda r: _comparable(v := get(r), target) and compare(norm(v), target)
    return lambda r: (v := get(r)) is not None and compare(norm(v), target)


def _comparable(value: Any, target: Any) -> bool:
    """Whether a custom field value can be compared with a condition's value (same kind)."""
    if value is None or isinstance(value, bool) != isinstance(target, bool):
        return False
    numbers = (int, float)
    return isinstance(value, numbers) == isinstance(target, numbers) and (
        isinstance(value, str) == isinstance(target, str))


def compile_filter(text: str, fields: Mapping[str, Field], param: str) -> Predicate:
    """``text`` (e.g. ``customFieldConditions``, tested on one custom field entry) compiled
    against ``fields``; a :class:`BadQuery` names ``param``."""
    try:
        return compile_conditions(parse_conditions(text), fields)
    except BadQuery as err:
        raise BadQuery(str(err), field=param) from None


def any_child_matches(text: str, fields: Mapping[str, Field]) -> Predicate:
    """``childConditions``: each comparison holds when one of the record's children does;
    the getters of ``fields`` answer the values of all the children."""
    try:
        return _compile_children(parse_conditions(text), fields)
    except BadQuery as err:
        raise BadQuery(str(err), field="childConditions") from None


def _compile_children(node: Any, fields: Mapping[str, Field]) -> Predicate:
    if isinstance(node, BoolOp):
        parts = [_compile_children(item, fields) for item in node.items]
        if node.op == "and":
            return lambda r: all(p(r) for p in parts)
        return lambda r: any(p(r) for p in parts)
    name, (values, kind) = lookup_field(fields, node.field, "childConditions")
    test = _compile_cmp(node._replace(field=name), {name: Field(lambda v: v, kind)})
    return lambda r: any(test(v) for v in values(r))


def _and_terms(node: Any) -> list[Any]:
    if isinstance(node, BoolOp) and node.op == "and":
        return [term for item in node.items for term in _and_terms(item)]
    return [node]


def plan_conditions(text: str | None, fields: Mapping[str, Field]) -> Plan:
    if text is None or not text.strip():
        return Plan()
    node = parse_conditions(text)
    bounds: list[Bound] = []
    rest = []
    for term in _and_terms(node):
        bound = _id_bound(term)
        if bound is None:
            rest.append(term)
        else:
            bounds.append(bound)
    low, high = narrowed(bounds)
    residual = None
    if rest:
        residual = compile_conditions(rest[0] if len(rest) == 1 else BoolOp("and", tuple(rest)), fields)
    return Plan(low, high, residual)


def _id_bound(term: Any) -> Bound | None:
    if not (isinstance(term, Cmp) and term.field.casefold() == "id"):
        return None
    value = term.value
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    return {">": (value + 1, None), ">=": (value, None), "<": (None, value - 1),
            "<=": (None, value), "=": (value, value)}.get(term.op)
