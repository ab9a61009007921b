from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from psad.store import Store

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"


def require_tool(name: str) -> str:
    """The tool's path; skip visibly locally, fail in CI (PSAD_REQUIRE_TOOLS=1)."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (.ci/run installs it)"
        if os.environ.get("PSAD_REQUIRE_TOOLS"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "psad.db")
    yield opened
    await opened.close()
