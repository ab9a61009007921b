"""Typed keys for everything stored on the aiohttp app."""

from __future__ import annotations

from typing import TYPE_CHECKING

import jinja2
from aiohttp import web

if TYPE_CHECKING:
    from psad.runtime import Runtime

RUNTIME_KEY: web.AppKey[Runtime] = web.AppKey("runtime")
TEMPLATES_KEY = web.AppKey("templates", jinja2.Environment)
