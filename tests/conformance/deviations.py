"""Every known gap between a vendor's published spec and its real API, in one table.

Each entry patches the vendored spec subset (specs/) before the conformance tests use it,
and says why: the evidence that the real API differs from its document. The tests print
this list. A simulator answer or a connector request the patched spec still refuses is a
finding to fix, not a deviation to add without evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Deviation:
    vendor: str
    target: str
    """A component schema name, ``"METHOD /path"`` (an operation; its 200 response schema,
    or the operation itself when ``field`` is empty), or ``"*"``: every schema of the spec."""
    field: str
    """The property the real API has or types differently (``a/b`` reaches into nested
    objects, ``[]`` into array items); ``?name``: a query parameter; empty: ``allow`` is an
    operation the spec lacks."""
    allow: Any
    """The property's or parameter's schema as the real API has it (OpenAPI 3.0 form), the
    operation, or for ``"*"`` one of ``"nullable"`` and ``"camelCase"``."""
    evidence: str

    def apply(self, doc: dict[str, Any]) -> None:
        if self.target == "*":
            for schema in doc["components"]["schemas"].values():
                _everywhere(schema, self.allow)
            return
        if self.field.startswith("?"):
            method, path = self.target.split(" ", 1)
            op = doc["paths"][path][method.lower()]
            param = next(p for p in op["parameters"] if p["name"] == self.field[1:])
            param["schema"] = self.allow
            return
        if not self.field:
            method, path = self.target.split(" ", 1)
            doc["paths"].setdefault(path, {})[method.lower()] = self.allow
            return
        node = self._root(doc)
        *parents, name = self.field.split("/")
        for part in parents:
            node = _descend(doc, node, part)
        node.setdefault("properties", {})[name] = self.allow

    def _root(self, doc: dict[str, Any]) -> dict[str, Any]:
        if " " not in self.target:
            schema: dict[str, Any] = doc["components"]["schemas"][self.target]
            return schema
        method, path = self.target.split(" ", 1)
        media = doc["paths"][path][method.lower()]["responses"]["200"]["content"]
        return next(m["schema"] for m in media.values() if "schema" in m)

    def __str__(self) -> str:
        where = self.target + (f" {self.field}" if self.field else " (operation)")
        return f"{self.vendor}: {where}: {self.evidence}"


def _everywhere(schema: dict[str, Any], change: str) -> None:
    props = schema.get("properties", {})
    if change == "nullable":
        for prop in props.values():
            prop["nullable"] = True
    elif change.startswith("nullable:"):
        if change[9:] in props:
            props[change[9:]]["nullable"] = True
    elif change == "camelCase":
        schema["properties"] = {camel_case(k): v for k, v in props.items()}
        if "required" in schema:
            schema["required"] = [camel_case(k) for k in schema["required"]]
    else:
        raise ValueError(f"unknown spec-wide change {change!r}")


def camel_case(name: str) -> str:
    """A .NET property name as System.Text.Json's camel-case policy writes it: the leading
    run of capitals lowered, but for the last one before a lower-case letter
    (``DNSServers`` → ``dnsServers``, ``IpAddress`` → ``ipAddress``)."""
    chars = list(name)
    for i, char in enumerate(chars):
        if i == 1 and not char.isupper():
            break
        if i > 0 and i + 1 < len(chars) and not chars[i + 1].isupper():
            break
        chars[i] = char.lower()
    return "".join(chars)


def _descend(doc: dict[str, Any], node: dict[str, Any], part: str) -> dict[str, Any]:
    if part == "[]":
        node = node["items"]
    else:
        node = node["properties"][part]
    while "$ref" in node:
        node = doc["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node


ANY: Any = {}
"""Any JSON value."""


def _next_page(entity: str, result: str) -> Deviation:
    return Deviation(
        "autotask", f"POST /V1.0/{entity}/query/next", "",
        {"parameters": [{"name": "paging", "in": "query", "required": True,
                         "schema": {"type": "string"}}],
         "requestBody": {"content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/QueryModel"}}}},
         "responses": {"200": {"description": "OK", "content": {"application/json": {
             "schema": {"$ref": f"#/components/schemas/{result}"}}}}}},
        "pageDetails.nextPageUrl points here (…/query/next?paging=…, captured from a live "
        "tenant); clients POST the query body again (Anteris autotask-client, django-autotask); "
        "the spec lists only …/query")


DEVIATIONS: tuple[Deviation, ...] = (
    Deviation(
        "connectwise", "CustomFieldValue", "value", ANY,
        "the spec types value as an object; tenants send the scalar itself (a string, number "
        "or boolean; no key when unset): recorded sandbox responses in the Rapid7 InsightConnect "
        "ConnectWise plugin docs, pyconnectwise's CustomFieldValue.value typed Any"),
    Deviation(
        "connectwise", "BundleResult", "entities",
        {"type": "array", "items": {"anyOf": [{"$ref": "#/components/schemas/CompanySite"},
                                              {"$ref": "#/components/schemas/BoardStatus"}]}},
        "the spec types entities as IRestIdentifiedItem, the .NET interface every model "
        "implements (it declares only id); a bundled read answers the records its "
        "resourceType's own endpoint answers, in a wrapper carrying the status (developer "
        "page \"Bundled Requests\", Response); psad bundles company sites and board statuses"),
    Deviation(
        "autotask", "*", "*", "nullable",
        "Swagger 2.0 cannot mark a property nullable; the REST API sends null for every empty "
        "field (pageDetails.prevPageUrl null on the first page, item null when absent: "
        "django-autotask and Anteris fixtures)"),
    Deviation(
        "autotask", "CompanyModel", "companyCategoryID", {"type": "integer", "nullable": True},
        "on every Company of the current API (django-autotask Company sync, "
        "Anteris CompanyEntity); the vendored client spec predates it"),
    Deviation(
        "autotask", "TicketModel", "description", {"type": "string", "nullable": True},
        "the ticket's description, read by django-autotask and Anteris TicketEntity; "
        "missing from the vendored client spec"),
    *(_next_page(entity, result) for entity, result in (
        ("Companies", "QueryActionResultCompanyModelAccount"),
        ("CompanyLocations", "QueryActionResultCompanyLocationModelAccountPhysicalLocation"),
        ("ConfigurationItems", "QueryActionResultConfigurationItemModelInstalledProduct"),
        ("Contacts", "QueryActionResultContactModelContact"),
        ("Tickets", "QueryActionResultTicketModelTicket"),
        ("Products", "QueryActionResultProductModelProduct"))),
    Deviation(
        "kaseya_bms", "*", "*", "camelCase",
        "the spec names properties in PascalCase (Success, Result, TotalRecords); the API "
        "answers camelCase (success, result, totalRecords): huntresslabs/kaseya-ruby "
        "collection parsing, jc3k Power Query scripts, a Pulseway PSA v2 client"),
    Deviation(
        "kaseya_bms", "*", "*", "nullable:error",
        "a successful answer carries error: null (the spec types it an object): "
        "huntresslabs/kaseya-ruby spec fixtures, jc3k Power Query scripts"),
    Deviation(
        "syncro", "GET /customer_assets", "meta",
        {"type": "object", "properties": {"total_pages": {"type": "integer"},
                                          "total_entries": {"type": "integer"},
                                          "per_page": {"type": "integer"},
                                          "page": {"type": "integer"}}},
        "every paged list answers meta.total_pages (the spec's own /customers and /tickets "
        "examples; msp4msps/SyncroAPI Get-AllCustomers.ps1); the /customer_assets example "
        "omits it"),
    *(Deviation(
        "syncro", f"GET {path}", f"{key}/properties", {"type": "object", "nullable": True},
        "properties holds the tenant's custom fields keyed by their names (and RMM data such "
        "as kabuto_information), so its keys are the tenant's, not the spec's: "
        "syncromsp-mcp api-quirks.md, wm-syncromsp-swagger-client docs")
      for path, key in (("/customers", "customers/[]"), ("/customers/{id}", "customer"),
                        ("/contacts", "contacts/[]"), ("/customer_assets", "assets/[]"),
                        ("/customer_assets", "assets/[]/customer"),
                        ("/tickets/{id}", "ticket/customer"))),
    Deviation(
        "halo", "GET /Client", "?lastupdatefromdate", {"type": "string", "format": "date-time"},
        "typed bool with a wrong description in the spec; clients send a timestamp "
        "(pyhalopsa, HaloAPI) and the API filters on it"),
    Deviation(
        "halo", "GET /Users", "?lastupdatefromdate", {"type": "string", "format": "date-time"},
        "as for /Client"),
    Deviation(
        "halo", "GET /Asset", "?lastupdatefromdate", {"type": "string", "format": "date-time"},
        "as for /Client"),
    Deviation(
        "halo", "POST /auth/token", "",
        {"requestBody": {"content": {"application/x-www-form-urlencoded": {"schema": {
            "type": "object", "required": ["grant_type", "client_id", "client_secret"],
            "properties": {"grant_type": {"type": "string"}, "client_id": {"type": "string"},
                           "client_secret": {"type": "string"}, "scope": {"type": "string"}}}}}},
         "parameters": [{"name": "tenant", "in": "query", "schema": {"type": "string"}}],
         "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {
             "type": "object", "required": ["access_token", "token_type", "expires_in"],
             "properties": {"access_token": {"type": "string"}, "token_type": {"type": "string"},
                            "expires_in": {"type": "integer"}, "scope": {"type": "string"}}}}}}}},
        "the authorisation server's OAuth2 client-credentials token endpoint (RFC 6749 §4.4), "
        "documented in Halo's API guide and used by every client; the resource API's spec "
        "does not cover it"),
)
