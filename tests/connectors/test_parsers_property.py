"""Property tests: every connector's record parser against arbitrary and malformed vendor JSON.

Each connector turns one vendor JSON record into a normalized record with a pure
function, and a page of items into a :class:`psad.connectors.base.Page` with
``base.translate_page`` (or ``_named``/``_priorities``/``_account_sites`` where the
vendor's shape needs it). These tests drive exactly those functions,
with the lookups and custom-field selections the connector would pass, and check:

1. nothing but the rejection path ever comes out: a bad item becomes one
   :class:`psad.model.Rejected` with a reason (``wire.BadRecord`` one level down),
   never an exception that loses the page;
2. valid records in a page with garbage are still returned, the garbage
   rejected one for one;
3. real wire records (rendered by the vendor's simulator from a small
   ``Dataset``) mutated by hypothesis parse to records whose every field has the
   model's type, or are rejected with a reason;
4. stored text is never longer than ``wire.MAX_TEXT`` and carries no NUL.

The tests at the end pin inputs that once broke a whole page or let NUL through.
"""

from __future__ import annotations

import collections.abc
import copy
import dataclasses
import functools
import types
import typing
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from psad.connectors import base, wire
from psad.connectors.autotask import wire as at
from psad.connectors.base import Page
from psad.connectors.connectwise import wire as cw
from psad.connectors.halo import wire as halo
from psad.connectors.kaseya_bms import KaseyaBmsConnector
from psad.connectors.kaseya_bms import wire as bms
from psad.connectors.syncro import SyncroConnector
from psad.connectors.syncro import wire as syncro
from psad.model import Address, Entity, Record, Rejected
from psad.simulators import autotask as at_sim
from psad.simulators import connectwise as cw_sim
from psad.simulators import halo as halo_sim
from psad.simulators import kaseya_bms as bms_sim
from psad.simulators import syncro as syncro_sim
from psad.simulators.dataset import Dataset

KINDS = ("connectwise", "autotask", "syncro", "kaseya_bms", "halo")
MAX_ID = 64
"""``wire.psa_id`` refuses longer ids."""

PROPERTY = settings(max_examples=20, deadline=None, database=None)
"""Modest on purpose: the whole file must stay well under 30 s on two cores (no health
check needs suppressing; ``database=None`` leaves no ``.hypothesis/`` behind)."""


# --- what vendors send ------------------------------------------------------------------------

JAN_10 = date(2025, 1, 10)
ISO_DATES = ("2025-01-10T00:00:00Z", "2025-01-10T00:00:00.000Z", "2025-01-10T00:00:00",
             "2025-01-10", "2025-01-10T00:00:00+02:00")
OTHER_DATES = ("/Date(1736467200000)/", "01/10/2025")
SENTINEL_DATES = {"0001-01-01T00:00:00": date(1, 1, 1), "1900-01-01T00:00:00": date(1900, 1, 1)}
DATE_SHAPES = (*ISO_DATES, *OTHER_DATES, "", *SENTINEL_DATES)

ODD_TEXT = (
    "\x00", "a\x00b", "\x00 \x00", "  padded  ", " \t\n ", "\u200fRTL\u200e", "\u202eevil\u202c",
    "😀👍🏽🏳️‍🌈", "e\u0301\u0301\u0301", "Z̷̢a̶l̴g̷o", "\ufeffBOM", "line\u2028break", "\u3000",
    "١٢٣", "𝟙𝟚", "NaN", "Infinity", "true", "false", "yes", "0", "1", "-1", "1.0", "null",
    "Ünïcødé Ltd", "日本語の会社", "O'Brien & \"Co\"", "<script>x</script>",
)
HUGE_TEXT = (
    "x" * 100_000,
    ("\u202e😀e\u0301" * 25_000)[:100_000],
    "a" * (wire.MAX_TEXT + 1),
    "   " + "a" * wire.MAX_TEXT + "   ",     # exactly the limit once stripped
    "a" * wire.MAX_TEXT + "\x00" * 5,        # exactly the limit once NULs go
    "\x00" * 100_000,                        # nothing at all once NULs go
)


INT_TRAPS = ("²", "--1", "-²", "9" * 5000)
"""Digit-like text that ``int()`` refuses; it once escaped as a bare ValueError."""

TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=24)
LEAVES = st.one_of(
    st.none(), st.booleans(), st.integers(-(2 ** 70), 2 ** 70), st.floats(), TEXT,
    st.sampled_from(ODD_TEXT), st.sampled_from(DATE_SHAPES))
JSON = st.recursive(
    LEAVES, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8)
"""Any JSON value (Python's json module reads NaN and Infinity too)."""
MUTANTS = st.one_of(JSON, st.sampled_from(HUGE_TEXT), st.sampled_from(DATE_SHAPES))
"""What a mutated field becomes: wrong types, None, huge or odd text, every date shape."""
STRINGY = st.one_of(TEXT, st.sampled_from(ODD_TEXT), st.sampled_from(HUGE_TEXT))
BAD_IDS = st.one_of(
    st.none(), st.booleans(), st.floats(), st.lists(LEAVES, max_size=2),
    st.dictionaries(TEXT, LEAVES, max_size=2), st.sampled_from(("", "   ", "x" * (MAX_ID + 1))))
"""Ids ``wire.psa_id`` must refuse."""


# --- the dataset the simulators render --------------------------------------------------------

DS = Dataset.generate(7, companies=4, sites_per_company=2, assets=12, contacts=8, tickets=0,
                      boards=2)
ASSET_SELECTED = (*(d.caption for d in DS.asset_fields), "Not On Record")
CONTACT_SELECTED = (*(d.caption for d in DS.contact_fields), "Not On Record")
"""Custom fields an integration selects: every real one plus one no record has."""

Parse = Callable[[Mapping[str, Any]], Record]
Translate = Callable[[Entity, Sequence[Any], Parse], Page]
Path = tuple[Any, ...]
"""Keys and indexes into a wire record; a dict picks the list item that matches it."""


@dataclass(frozen=True, eq=False)
class Case:
    kind: str
    entity: Entity
    samples: tuple[Any, ...]
    """Valid wire items, as the vendor's simulator renders them."""
    page: Callable[[list[Any]], Page]
    """The connector's own translation of one upstream page."""
    parse: Parse | None = None
    """The connector's single-record parser (raises ``wire.BadRecord``), where it has one."""
    id_key: str | None = "id"
    """Where an item's psa id sits; None for Syncro's id-less name lists."""
    one_to_one: bool = True
    """Every item yields one record or one rejection (not so where blanks or
    repeats are skipped by design: Syncro name lists, Halo's per-SLA priorities)."""
    dates: tuple[tuple[Path, str], ...] = ()
    """Date fields: path in the wire record → model field."""
    selected: tuple[str, ...] | None = None
    """The custom fields selected for this entity, when it has any."""

    def expected_id(self, sample: Any) -> str:
        if self.id_key is None:
            return syncro.name_id(sample)
        return str(sample[self.id_key]).strip()

    def __repr__(self) -> str:
        return f"{self.kind}-{self.entity.value}"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """Hypothesis prints the case by name, not its samples and lambdas."""
        printer.text(repr(self))


def _simple(kind: str, entity: Entity, samples: Sequence[Any], translate: Translate,
            parse: Parse, **extra: Any) -> Case:
    return Case(kind, entity, tuple(samples),
                page=lambda items: translate(entity, items, parse), parse=parse, **extra)


def _page_translator(module: Any, **options: Any) -> Translate:
    """How ``module`` translates a page: the shared ``base.translate_page`` with the
    options the connector passes it (or, in a tree before that refactor, its own)."""
    shared = getattr(base, "translate_page", None)
    if shared is not None:
        return functools.partial(shared, **options)  # type: ignore[no-any-return]
    own: Translate = getattr(module, "_translate", None) or module.translate
    return own


def _drive(coroutine: Any) -> Any:
    """Run a coroutine that never really suspends (its I/O is faked) to its result."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise AssertionError("the page translation awaited real I/O")


# connectwise ----------------------------------------------------------------------------------

def _connectwise() -> list[Case]:
    t, r = _page_translator(cw), lambda render, entity: [render(DS, x)
                                                          for x in DS.records(entity)]
    return [
        _simple("connectwise", Entity.COMPANY_STATUS,
                r(cw_sim.render_company_status, "company_statuses"), t, cw._company_status),
        _simple("connectwise", Entity.COMPANY, r(cw_sim.render_company, "companies"), t,
                cw._company),
        _simple("connectwise", Entity.SITE, r(cw_sim.render_site, "sites"), t,
                lambda d: cw._site(d, "1")),
        _simple("connectwise", Entity.ASSET, r(cw_sim.render_configuration, "assets"), t,
                lambda d: cw._asset(d, ASSET_SELECTED), selected=ASSET_SELECTED,
                dates=((("purchaseDate",), "purchase_date"),
                       (("warrantyExpirationDate",), "warranty_expiration"))),
        _simple("connectwise", Entity.CONTACT, r(cw_sim.render_contact, "contacts"), t,
                lambda d: cw._contact(d, CONTACT_SELECTED), selected=CONTACT_SELECTED),
        _simple("connectwise", Entity.BOARD, r(cw_sim.render_board, "boards"), t, cw._board),
        _simple("connectwise", Entity.PRIORITY, r(cw_sim.render_priority, "priorities"), t,
                cw._priority),
        _simple("connectwise", Entity.TICKET_STATUS,
                r(cw_sim.render_board_status, "ticket_statuses"), t,
                lambda d: cw._ticket_status(d, "1")),
    ]


# autotask -------------------------------------------------------------------------------------

def _autotask() -> list[Case]:
    tables = at_sim.Tables()
    renderer = at_sim.Renderer(DS, tables)
    resources = at_sim.resources(DS, tables)
    companies = [renderer.company(c) for c in DS.records("companies")]
    locations = [renderer.location(s) for s in DS.records("sites")]
    items = [renderer.configuration_item(a) for a in DS.records("assets")]
    contacts = [renderer.contact(c) for c in DS.records("contacts")]
    picklists = resources["tickets"].picklists()
    # The lookups the connector reads before translating (after rendering: tables grow).
    countries = {str(c["id"]): c["displayName"] for c in tables.country_rows()}
    company_lk = at.Lookups(company_types=at._labels(
        resources["companies"].picklists()["companyType"]))
    asset_lk = at.Lookups(
        ci_types={str(c["id"]): c["name"] for c in tables.ci_type_rows()},
        products={str(p["id"]): p["manufacturerName"] for p in tables.product_rows()},
        udfs=at._udf_defs({"fields": resources["configurationitems"].udf_defs()}))
    contact_lk = at.Lookups(countries=countries, udfs=at._udf_defs(
        {"fields": resources["contacts"].udf_defs()}))
    closed = frozenset({"waiting on client"})
    t = _page_translator(at, id_keys=("id", "value"))
    return [
        _simple("autotask", Entity.COMPANY, companies, t, lambda d: at._company(d, company_lk)),
        _simple("autotask", Entity.SITE, locations, t,
                lambda d: at._site(d, at.Lookups(countries=countries))),
        _simple("autotask", Entity.ASSET, items, t,
                lambda d: at._asset(d, asset_lk, ASSET_SELECTED, at_sim.PURCHASE_DATE_UDF),
                selected=ASSET_SELECTED,
                dates=((("warrantyExpirationDate",), "warranty_expiration"),
                       (("userDefinedFields", {"name": at_sim.PURCHASE_DATE_UDF}, "value"),
                        "purchase_date"))),
        _simple("autotask", Entity.CONTACT, contacts, t,
                lambda d: at._contact(d, contact_lk, CONTACT_SELECTED),
                selected=CONTACT_SELECTED),
        _simple("autotask", Entity.BOARD, picklists["queueID"], t, at._board, id_key="value"),
        _simple("autotask", Entity.PRIORITY, picklists["priority"], t, at._priority,
                id_key="value"),
        _simple("autotask", Entity.TICKET_STATUS, picklists["status"], t,
                lambda d: at._ticket_status(d, closed), id_key="value"),
    ]


# syncro ---------------------------------------------------------------------------------------

class _SyncroSettings:
    """Just enough of SyncroConnector to run its own set-up page translation on a body."""

    name = "property"
    _setup_page = SyncroConnector._setup_page

    def __init__(self, body: Any) -> None:
        self._body = body

    async def _settings(self, path: str) -> Any:
        return self._body


def _syncro_names(entity: Entity) -> Callable[[list[Any]], Page]:
    def page(items: list[Any]) -> Page:
        body: dict[str, Any] = (
            {"ticket_status_list": items} if entity is Entity.TICKET_STATUS
            else {"ticket": {"problem_types" if entity is Entity.BOARD else "priorities": items}})
        result: Page = _drive(_SyncroSettings(body)._setup_page(entity))
        return result
    return page


def _syncro() -> list[Case]:
    renderer = syncro_sim.Renderer(DS, "https://psad.syncromsp.com")
    customers = [renderer.customer(c) for c in DS.records("companies")]
    t = _page_translator(syncro)
    names = {
        Entity.BOARD: [b.name for b in DS.records("boards")],
        Entity.PRIORITY: [n for n in syncro_sim.priority_names(DS) if n],  # "" is skipped
        Entity.TICKET_STATUS: syncro_sim.status_names(DS),
    }
    return [
        _simple("syncro", Entity.COMPANY, customers, t,
                lambda d: syncro._company(d, syncro_sim.WEBSITE_FIELD)),
        _simple("syncro", Entity.SITE, customers, t, syncro._site),
        _simple("syncro", Entity.ASSET, [renderer.asset(a) for a in DS.records("assets")], t,
                lambda d: syncro._asset(d, ASSET_SELECTED), selected=ASSET_SELECTED,
                dates=((("properties", syncro_sim.PURCHASE_FIELD), "purchase_date"),
                       (("properties", syncro_sim.WARRANTY_FIELD), "warranty_expiration"))),
        _simple("syncro", Entity.CONTACT, [renderer.contact(c) for c in DS.records("contacts")],
                t, lambda d: syncro._contact(d, CONTACT_SELECTED), selected=CONTACT_SELECTED),
        *(Case("syncro", entity, tuple(names[entity]), page=_syncro_names(entity), id_key=None,
               one_to_one=False) for entity in names),
    ]


# kaseya bms -----------------------------------------------------------------------------------

class _BmsSites:
    """Just enough of KaseyaBmsConnector to run its own per-account site translation."""

    _remember = KaseyaBmsConnector._remember
    _address = KaseyaBmsConnector._address
    _account_sites = KaseyaBmsConnector._account_sites

    def __init__(self) -> None:
        self._addresses: OrderedDict[str, Address] = OrderedDict()


_BMS_TRANSLATE = _page_translator(bms)


def _bms_translate(entity: Entity, items: Sequence[Any], parse: Parse) -> Page:
    """As ``_pages`` hands items over (``records`` camel-cases them), then translated."""
    return _BMS_TRANSLATE(entity, bms.records(list(items), "GET property", "property"), parse)


def _bms_sites(items: list[Any]) -> Page:
    account = {"id": 1, "accountName": "Acme", "locations": items}
    page: Page = _BmsSites()._account_sites(bms.camel(account))
    return page


BMS_CUSTOM = {str(c.id): bms_sim.render_custom_fields(DS.contact_fields, c.id, c.custom_fields)
              for c in DS.records("contacts")}
"""Contacts' custom fields: a second BMS call per contact, keyed by contact id."""


def _bms_contact(d: Mapping[str, Any]) -> Record:
    """The parser ``KaseyaBmsConnector._contacts`` builds (no location cache yet)."""
    sites = _BmsSites()
    return bms._contact(d, CONTACT_SELECTED, BMS_CUSTOM.get(str(d.get("id"))),
                        sites._address(wire.opt_id(d, "locationId")))


def _kaseya_bms() -> list[Case]:
    t = _bms_translate
    locations = [bms_sim.render_location(DS, s) for s in DS.records("sites")]
    return [
        _simple("kaseya_bms", Entity.COMPANY,
                [bms_sim.render_account(DS, c, "psad") for c in DS.records("companies")], t,
                bms._company),
        Case("kaseya_bms", Entity.SITE, tuple(locations), page=_bms_sites,
             parse=lambda d: bms._site(d, "1")),
        _simple("kaseya_bms", Entity.ASSET, [bms_sim.render_asset(DS, a)
                                             for a in DS.records("assets")], t,
                lambda d: bms._asset(d, ASSET_SELECTED), selected=ASSET_SELECTED,
                dates=((("acquisitionDate",), "purchase_date"),
                       (("warrantyExpirationDate",), "warranty_expiration"))),
        _simple("kaseya_bms", Entity.CONTACT, [bms_sim.render_contact(DS, c)
                                               for c in DS.records("contacts")], t,
                _bms_contact, selected=CONTACT_SELECTED),
        _simple("kaseya_bms", Entity.BOARD, [bms_sim.render_queue(DS, b)
                                             for b in DS.records("boards")], t, bms._board),
        _simple("kaseya_bms", Entity.PRIORITY, [bms_sim.render_priority(DS, p)
                                                for p in DS.records("priorities")], t,
                bms._priority),
        _simple("kaseya_bms", Entity.TICKET_STATUS,
                [bms_sim.render_status(DS, s)
                 for s in bms_sim.global_statuses(DS).values()], t, bms._ticket_status),
    ]


# halo -----------------------------------------------------------------------------------------

class _HaloQuery(halo_sim.Query):
    """The list flags psad sends (``includeaddress``, ``includeassetfields``)."""

    def __init__(self) -> None:
        self.values = {"includeaddress": "true", "includeassetfields": "true"}


def _halo() -> list[Case]:
    renderer, q = halo_sim.Renderer(DS), _HaloQuery()
    open_statuses = {str(s.id) for s in renderer.canonical_statuses().values() if not s.closed}
    clients = [renderer.client(c, q) for c in DS.records("companies")]
    main_sites = {wire.psa_id(c): site for c in clients
                  if (site := wire.opt_id(c, "main_site_id")) is not None}
    rows = [row for p in DS.records("priorities") for row in renderer.priorities(p)]
    first_rows = list({row["priorityid"]: row for row in reversed(rows)}.values())[::-1]
    t = _page_translator(halo)
    return [
        _simple("halo", Entity.COMPANY, clients, t, halo._client),
        _simple("halo", Entity.SITE, [renderer.site(s, q) for s in DS.records("sites")], t,
                lambda d: halo._site(d, main_sites)),
        _simple("halo", Entity.ASSET, [renderer.asset(a, q) for a in DS.records("assets")], t,
                lambda d: halo._asset(d, ASSET_SELECTED), selected=ASSET_SELECTED,
                dates=((("warranty_end",), "warranty_expiration"),
                       (("fields", {"name": "Purchase Date"}, "value"), "purchase_date"))),
        _simple("halo", Entity.CONTACT, [renderer.user(c, q) for c in DS.records("contacts")],
                t, lambda d: halo._contact(d, CONTACT_SELECTED), selected=CONTACT_SELECTED),
        _simple("halo", Entity.BOARD, [renderer.team(b) for b in DS.records("boards")], t,
                halo._team),
        Case("halo", Entity.PRIORITY, tuple(first_rows), page=halo._priorities,
             parse=halo._priority, id_key="priorityid", one_to_one=False),
        _simple("halo", Entity.TICKET_STATUS,
                [renderer.status(s) for s in renderer.canonical_statuses().values()], t,
                lambda d: halo._status(d, open_statuses)),
    ]


CASES: list[Case] = [*_connectwise(), *_autotask(), *_syncro(), *_kaseya_bms(), *_halo()]
BY_KEY = {(c.kind, c.entity): c for c in CASES}
assert {c.kind for c in CASES} == set(KINDS)
PARAMS = [pytest.param(c, id=repr(c)) for c in CASES]
DATED_PARAMS = [pytest.param(c, id=repr(c)) for c in CASES if c.dates]
PARSER_PARAMS = [pytest.param(c, id=repr(c)) for c in CASES if c.parse is not None]


# --- mutation -----------------------------------------------------------------------------------

def _paths(node: Any, prefix: Path) -> Iterator[Path]:
    if isinstance(node, dict):
        items: Any = node.items()
    elif isinstance(node, list):
        items = enumerate(node)
    else:
        return
    for key, child in items:
        yield prefix + (key,)
        yield from _paths(child, prefix + (key,))


def _resolve(node: Any, step: Any) -> Any:
    if isinstance(step, dict):
        return next(i for i, item in enumerate(node)
                    if isinstance(item, dict) and step.items() <= item.items())
    return step


def _put(record: Any, path: Path, value: Any) -> None:
    node = record
    for step in path[:-1]:
        node = node[_resolve(node, step)]
    node[_resolve(node, path[-1])] = value


def _get(record: Any, path: Path) -> Any:
    node = record
    for step in path:
        node = node[_resolve(node, step)]
    return node


@st.composite
def _mutated(draw: st.DrawFn, case: Case, values: st.SearchStrategy[Any]) -> Any:
    """A real record of ``case`` with 1-4 fields dropped or replaced (nested ones too)."""
    holder = [copy.deepcopy(case.samples[draw(st.integers(0, len(case.samples) - 1))])]
    for _ in range(draw(st.integers(1, 4))):
        if case.dates and draw(st.integers(0, 3)) == 0:
            path, _field = case.dates[draw(st.integers(0, len(case.dates) - 1))]
            try:
                _put(holder[0], path, draw(st.sampled_from(DATE_SHAPES)))
            except (LookupError, TypeError, StopIteration):
                pass  # an earlier mutation took the date's container away
            continue
        path = draw(st.sampled_from([(0,), *_paths(holder[0], (0,))]))
        parent = _get(holder, path[:-1])
        if len(path) > 1 and draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(values)
    return holder[0]


@functools.cache
def _shaped(case: Case) -> st.SearchStrategy[Any]:
    """Dicts with the vendor's own keys holding anything at all."""
    keys = sorted({k for s in case.samples if isinstance(s, dict) for k in s})
    if not keys:
        return JSON
    return st.dictionaries(st.sampled_from(keys), MUTANTS, max_size=len(keys))


@functools.cache
def garbage(case: Case) -> st.SearchStrategy[Any]:
    """Items the connector must reject, each on its own."""
    if case.id_key is None:  # Syncro names: anything that is not usable text
        return st.one_of(st.booleans(), st.lists(LEAVES, max_size=2),
                         st.dictionaries(TEXT, LEAVES, max_size=2),
                         st.sampled_from([h for h in HUGE_TEXT if len(h.replace("\x00", "").strip())
                                          > wire.MAX_TEXT]),
                         st.sampled_from(("é" * 30, "😀" * 20)))  # ids over 64 characters

    @st.composite
    def bad_id(draw: st.DrawFn) -> Any:
        record = copy.deepcopy(case.samples[draw(st.integers(0, len(case.samples) - 1))])
        record[case.id_key] = draw(BAD_IDS)
        return record

    non_objects = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), TEXT,
                            st.lists(LEAVES, max_size=2))
    return st.one_of(non_objects, bad_id())


@functools.cache
def mutated(case: Case, values: st.SearchStrategy[Any] = MUTANTS) -> st.SearchStrategy[Any]:
    """A real record of ``case`` with 1-4 fields dropped or replaced (nested ones too)."""
    return _mutated(case, values)


# Built once per case: Hypothesis labels every new strategy (and lambda) by its source.

def _is_object(value: Any) -> bool:
    return isinstance(value, dict)


@functools.cache
def _arbitrary_items(case: Case) -> st.SearchStrategy[list[Any]]:
    return st.lists(st.one_of(JSON, _shaped(case), mutated(case)), max_size=6)


@functools.cache
def _arbitrary_record(case: Case) -> st.SearchStrategy[Any]:
    return st.one_of(st.dictionaries(TEXT, JSON, max_size=4), _shaped(case),
                     mutated(case).filter(_is_object))


@functools.cache
def _text_mutated_items(case: Case) -> st.SearchStrategy[list[Any]]:
    return st.lists(mutated(case, STRINGY), min_size=1, max_size=3)


@functools.cache
def _garbage_items(case: Case) -> st.SearchStrategy[list[Any]]:
    return st.lists(garbage(case), min_size=1, max_size=4, unique_by=repr)


@functools.cache
def _picks(case: Case) -> st.SearchStrategy[list[int]]:
    return st.lists(st.integers(0, len(case.samples) - 1), min_size=1, max_size=4, unique=True)


# --- what a parsed record must look like -----------------------------------------------------

def conforms(tp: Any, value: Any) -> bool:
    """Whether ``value`` has the model type ``tp`` exactly (no bool for int, no datetime for date)."""
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        return any(conforms(arg, value) for arg in typing.get_args(tp))
    if tp is type(None):
        return value is None
    if tp in (str, bool, int, float, date):
        return type(value) is tp
    if origin is tuple:
        (item, _ellipsis) = typing.get_args(tp)
        return type(value) is tuple and all(conforms(item, v) for v in value)
    if origin is collections.abc.Mapping:
        key_tp, value_tp = typing.get_args(tp)
        return isinstance(value, Mapping) and all(
            conforms(key_tp, k) and conforms(value_tp, v) for k, v in value.items())
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        return type(value) is tp and all(conforms(hints[f.name], getattr(value, f.name))
                                         for f in dataclasses.fields(tp))
    raise AssertionError(f"the test does not know model type {tp!r}")


ID_FIELDS = frozenset({"psa_id", "company_psa_id", "board_psa_id"})


def assert_well_typed(case: Case, record: Any) -> None:
    assert type(record) is case.entity.record_type, record
    hints = typing.get_type_hints(type(record))
    for f in dataclasses.fields(record):
        value = getattr(record, f.name)
        assert conforms(hints[f.name], value), f"{case!r}.{f.name} = {value!r:.80}"
        if f.name in ID_FIELDS and value is not None:
            assert value and value == value.strip() and len(value) <= MAX_ID, (f.name, value)
        elif isinstance(value, str):
            assert value.strip(), f"{case!r}.{f.name} is blank text {value!r}"
    if case.selected is not None:
        assert set(record.custom_fields) == set(case.selected), record.custom_fields


def assert_rejection(case: Case, rejected: Any) -> None:
    assert type(rejected) is Rejected
    assert rejected.entity is case.entity
    assert isinstance(rejected.reason, str) and rejected.reason.strip()
    assert rejected.psa_id is None or isinstance(rejected.psa_id, str)


def assert_page(case: Case, page: Any, items: Sequence[Any]) -> None:
    """Only the documented outcome: a Page of well-typed records and reasoned rejections."""
    assert isinstance(page, Page)
    for record in page.records:
        assert_well_typed(case, record)
    for rejected in page.rejected:
        assert_rejection(case, rejected)
    if case.one_to_one:
        assert len(page.records) + len(page.rejected) == len(items)
    else:
        assert len(page.records) + len(page.rejected) <= len(items)


def strings(record: Any) -> Iterator[tuple[str, str]]:
    """Every text value a record would store, with where it sits."""
    for f in dataclasses.fields(record):
        value = getattr(record, f.name)
        if isinstance(value, str):
            yield f.name, value
        elif isinstance(value, Address):
            for inner, text in strings(value):
                yield f"{f.name}.{inner}", text
        elif isinstance(value, tuple):
            yield from ((f"{f.name}[]", v) for v in value if isinstance(v, str))
        elif isinstance(value, Mapping):
            for k, v in value.items():
                yield f"{f.name} key", k
                if isinstance(v, str):
                    yield f"{f.name}[{k!r}]", v


# --- the properties ----------------------------------------------------------------------------

@pytest.mark.parametrize("case", PARAMS)
def test_simulator_records_parse_cleanly(case: Case) -> None:
    """The baseline the strategies mutate: every rendered record parses, none is rejected."""
    page = case.page(list(case.samples))
    assert not page.rejected, page.rejected
    assert [r.psa_id for r in page.records] == [case.expected_id(s) for s in case.samples]
    for record in page.records:
        assert_well_typed(case, record)


@pytest.mark.parametrize("case", PARAMS)
@PROPERTY
@given(data=st.data())
def test_arbitrary_json_never_crashes_the_page(case: Case, data: st.DataObject) -> None:
    items = data.draw(_arbitrary_items(case))
    assert_page(case, case.page(items), items)


@pytest.mark.parametrize("case", PARSER_PARAMS)
@PROPERTY
@given(data=st.data())
def test_single_record_parser_raises_only_bad_record(case: Case, data: st.DataObject) -> None:
    assert case.parse is not None
    item = data.draw(_arbitrary_record(case))
    try:
        record = case.parse(item)
    except wire.BadRecord as err:
        assert str(err).strip()
    else:
        assert_well_typed(case, record)


@pytest.mark.parametrize("case", PARAMS)
@PROPERTY
@given(data=st.data())
def test_page_returns_every_valid_record_and_rejects_each_garbage_item(
        case: Case, data: st.DataObject) -> None:
    picks = data.draw(_picks(case))
    valid = [copy.deepcopy(case.samples[i]) for i in picks]
    bad = data.draw(_garbage_items(case))
    items = data.draw(st.permutations([*valid, *bad]))
    page = case.page(items)
    assert_page(case, page, items)
    expected = [case.expected_id(i) for i in items if any(i is v for v in valid)]
    assert [r.psa_id for r in page.records] == expected
    assert len(page.rejected) == len(bad)


@pytest.mark.parametrize("case", PARAMS)
@PROPERTY
@given(data=st.data())
def test_mutated_vendor_records_parse_well_typed_or_are_rejected(
        case: Case, data: st.DataObject) -> None:
    item = data.draw(mutated(case))
    page = case.page([item])
    assert_page(case, page, [item])
    if case.one_to_one:
        assert len(page.records) + len(page.rejected) == 1


@pytest.mark.parametrize("case", PARAMS)
@PROPERTY
@given(data=st.data())
def test_stored_text_is_bounded_and_nul_free(case: Case, data: st.DataObject) -> None:
    """Ids stay within 64 characters, other text within MAX_TEXT and without NUL.

    """
    items = data.draw(_text_mutated_items(case))
    page = case.page(items)
    assert_page(case, page, items)
    for record in page.records:
        for where, text in strings(record):
            assert len(text) <= (MAX_ID if where in ID_FIELDS else wire.MAX_TEXT), where
            assert "\x00" not in text, (where, text[:40])


@pytest.mark.parametrize("case", DATED_PARAMS)
def test_every_vendor_date_shape_gives_the_calendar_date_none_or_a_rejection(case: Case) -> None:
    """Exhaustive over samples × date fields × shapes: ISO shapes are the date the vendor
    meant, other shapes that date, None or a rejection, "" is None, and a sentinel is
    never any other date."""
    for sample in case.samples:
        for path, name in case.dates:
            for shape in DATE_SHAPES:
                item = copy.deepcopy(sample)
                _put(item, path, shape)
                page = case.page([item])
                assert_page(case, page, [item])
                if shape in ISO_DATES or shape == "":
                    assert len(page.records) == 1, (shape, page.rejected)
                if not page.records:
                    continue
                got = getattr(page.records[0], name)
                allowed: tuple[date | None, ...] = (
                    (JAN_10,) if shape in ISO_DATES else (None,) if shape == ""
                    else (SENTINEL_DATES[shape], None) if shape in SENTINEL_DATES
                    else (JAN_10, None))
                assert got in allowed, f"{case!r} {path} = {shape!r} → {name} {got!r}"


@PROPERTY
@given(custom=st.one_of(st.none(), TEXT, st.lists(
    st.one_of(JSON, st.fixed_dictionaries({"name": st.sampled_from(CONTACT_SELECTED)},
                                          optional={"data": MUTANTS})), max_size=5)))
def test_kaseya_bms_contact_custom_field_answers_parse_or_reject(custom: Any) -> None:
    """BMS contacts' custom fields arrive from a second call: a list, or why it failed."""
    case = BY_KEY[("kaseya_bms", Entity.CONTACT)]
    try:
        record = bms._contact(case.samples[0], CONTACT_SELECTED, custom, Address())
    except wire.BadRecord as err:
        assert str(err).strip()
    else:
        assert_well_typed(case, record)


# --- inputs that once broke parsing, pinned ----------------------------------------------------------------------

NUMBER_FIELDS = [
    ("connectwise", Entity.PRIORITY, "sortOrder"),
    ("autotask", Entity.COMPANY, "companyType"),
    ("kaseya_bms", Entity.TICKET_STATUS, "statusOrder"),
    ("halo", Entity.TICKET_STATUS, "sequence"),
]
"""One number field per connector read by ``wire.opt_int`` (Syncro's parsers read none)."""


@pytest.mark.parametrize("text", INT_TRAPS)
@pytest.mark.parametrize(("kind", "entity", "key"), NUMBER_FIELDS)
def test_digit_like_text_in_a_number_field_is_rejected_not_raised(
        kind: str, entity: Entity, key: str, text: str) -> None:
    case = BY_KEY[(kind, entity)]
    bad, good = copy.deepcopy(case.samples[0]), copy.deepcopy(case.samples[-1])
    bad[key] = text
    page = case.page([bad, good])
    assert [r.psa_id for r in page.records] == [case.expected_id(good)]
    assert len(page.rejected) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_ids_carry_no_nul(kind: str) -> None:
    case = BY_KEY[(kind, Entity.COMPANY)]
    item = copy.deepcopy(case.samples[0])
    item["id"] = "1\x00"
    page = case.page([item])
    ids = [r.psa_id for r in page.records] + [r.psa_id for r in page.rejected]
    assert all("\x00" not in (i or "") for i in ids), ids


CUSTOM_VALUE_PATHS: dict[str, Path] = {
    "connectwise": ("customFields", {"caption": "Rack"}, "value"),
    "autotask": ("userDefinedFields", {"name": "Rack"}, "value"),
    "syncro": ("properties", "Rack"),
    "halo": ("customfields", {"label": "Rack"}, "value"),
}


@pytest.mark.parametrize("kind", KINDS)
def test_custom_field_values_carry_no_nul(kind: str) -> None:
    if kind == "kaseya_bms":  # asset custom fields do not exist in BMS; contacts' come apart
        case = BY_KEY[(kind, Entity.CONTACT)]
        record: Any = bms._contact(case.samples[0], CONTACT_SELECTED,
                                   [{"name": "Preferred Channel", "data": "a\x00b"}], Address())
    else:
        case = BY_KEY[(kind, Entity.ASSET)]
        item = copy.deepcopy(case.samples[0])
        _put(item, CUSTOM_VALUE_PATHS[kind], "a\x00b")
        page = case.page([item])
        assert len(page.records) == 1, page.rejected
        record = page.records[0]
    values = [v for v in record.custom_fields.values() if isinstance(v, str)]
    assert values and all("\x00" not in v for v in values), values
