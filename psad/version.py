"""psad's version, as installed (``psad --version``, ``psad_build_info``)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def psad_version() -> str:
    try:
        return version("psad")
    except PackageNotFoundError:
        return "unknown"
