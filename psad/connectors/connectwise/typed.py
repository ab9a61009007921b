"""ConnectWise pages decoded straight into typed structs that hold only the fields psad reads.

The client decodes a page with :data:`CONFIGURATIONS` (see ``PsaClient.request``'s
``decoder``): msgspec checks each field's JSON type as it decodes and skips the fields
psad never reads, so translating reads attributes of known types instead of probing
dicts. A page with any item that does not fit these types (an id sent as text, a
custom field without a caption, …) comes back decoded as plain JSON instead and goes
through the dict readers in :mod:`psad.connectors.connectwise.wire`, which reject each
bad record with its reason as before. So these readers only ever see well-typed items,
and must translate each one to exactly what the dict readers make of the same JSON
(tests/connectors/test_cw_typed.py holds them to that).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from psad.connectors import wire
from psad.connectors.connectwise.wire import _asset, custom_field_value, picked_custom
from psad.model import Asset, CustomValue


class Ref(msgspec.Struct, gc=False):
    """A reference to another record: ``{"id": 1, "name": "…", …}``."""

    id: int | None = None
    name: str | None = None


class CustomField(msgspec.Struct, gc=False):
    caption: str
    type: str | None = None
    value: Any = None


class Identified(msgspec.Struct, gc=False):
    """A listed record: its id is what the next page's ``id>N`` condition continues from."""

    id: int


class Configuration(Identified, gc=False):
    """An asset: the ``company/configurations`` fields :func:`asset` reads."""

    name: str | None = None
    company: Ref | None = None
    status: Ref | None = None
    type: Ref | None = None
    purchaseDate: str | None = None
    warrantyExpirationDate: str | None = None
    serialNumber: str | None = None
    osType: str | None = None
    notes: str | None = None
    manufacturer: Ref | None = None
    customFields: list[CustomField] | None = None


CONFIGURATIONS = msgspec.json.Decoder(list[Configuration])


def _ref_id(ref: Ref | None) -> str | None:
    return None if ref is None or not ref.id else wire.id_value(ref.id, "id")


def _ref_name(ref: Ref | None) -> str | None:
    return None if ref is None else wire.text_value(ref.name, "name")


def _custom(fields: list[CustomField] | None, selected: Sequence[str]
            ) -> dict[str, CustomValue]:
    return picked_custom([(f.caption, f.value if f.type != "Date"
                           else custom_field_value(f.type, f.value)) for f in fields or ()],
                         selected)


def asset(c: Configuration, selected: Sequence[str]) -> Asset:
    """What :func:`psad.connectors.connectwise.wire._asset` makes of the same item
    (fields read in the same order, so a record with two bad fields names the same one)."""
    return Asset(
        psa_id=wire.id_value(c.id, "id"),
        company_psa_id=_ref_id(c.company),
        name=wire.required_text(c.name, "name"),
        status=_ref_name(c.status),
        type=_ref_name(c.type),
        purchase_date=wire.date_value(c.purchaseDate, "purchaseDate"),
        warranty_expiration=wire.date_value(c.warrantyExpirationDate, "warrantyExpirationDate"),
        serial_number=wire.text_value(c.serialNumber, "serialNumber"),
        os_type=wire.text_value(c.osType, "osType"),
        notes=wire.text_value(c.notes, "notes"),
        manufacturer=_ref_name(c.manufacturer),
        custom_fields=_custom(c.customFields, selected),
    )


def read_asset(item: Configuration | Mapping[str, Any], selected: Sequence[str]) -> Asset:
    """An asset from a typed struct, or from a JSON object of a page that did not fit."""
    if isinstance(item, Configuration):
        return asset(item, selected)
    return _asset(item, selected)
