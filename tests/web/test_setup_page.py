"""Custom fields chosen at set-up: the integration page lists what the PSA offers,
marks what is selected, and check-config warns about a field the PSA lacks."""

from __future__ import annotations

import asyncio
import html
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from conftest import write_config
from psad.cli import custom_field_warnings, main
from psad.config_file import load_config
from psad.metrics import Metrics
from psad.runtime import Runtime
from psad.web.app import create_app

NAME = "demo-connectwise"


@pytest.fixture
def config_path(tmp_path: Path, database: str, cw_sim: Any) -> Path:
    path = write_config(tmp_path, [cw_sim])
    text = path.read_text().replace('assets = ["Backup", "Rack"]',
                                    'assets = ["Backup", "Rack", "Colour"]')
    path.write_text(text)
    return path


async def test_the_setup_page_lists_offered_fields_marks_selected_and_shows_config_lines(
        config_path: Path, aiohttp_client: Any, auth: dict[str, str],
        capsys: pytest.CaptureFixture[str]) -> None:
    config = load_config(config_path)
    assert custom_field_warnings(config) == []  # nothing discovered yet: nothing to say
    runtime = Runtime(config, Metrics(CollectorRegistry()))
    client = await aiohttp_client(create_app(runtime))
    for _ in range(400):  # the first sync, queued at start
        runs = await runtime.store.list_runs(integration=NAME)
        if runs and runs[0].outcome not in ("queued", "running"):
            break
        await asyncio.sleep(0.05)
    found = await runtime.store.custom_fields(NAME)
    assert set(found["assets"]) == {"Backup", "Rack", "Cost Centre", "Last Audit"}

    page = html.unescape(await (await client.get(f"/integrations/{NAME}", headers=auth)).text())
    assets = page[page.index('data-custom-fields="assets"'):page.index("</table>")]
    for name, records in found["assets"].items():
        assert f'<th scope="row">{name}</th>\n      <td class="num">{records:,}</td>' in assets
    assert assets.count("mark-selected") == 2  # Backup and Rack
    assert "Colour" in assets and "selected, but ConnectWise PSA has no such field" in assets
    assert 'assets = ["Backup", "Rack", "Colour"]' in page
    every = page[page.index('data-config="every"'):]
    assert all(f'"{name}"' in every for names in found.values() for name in names)

    if not isinstance(config.database, Path):
        return  # check-config reads a SQLite file for this, never a database server
    warnings = custom_field_warnings(config)
    assert warnings == [f"integration '{NAME}': custom_fields.assets selects 'Colour', which the "
                        "PSA does not have (it offers 'Backup', 'Cost Centre', 'Last Audit', "
                        "'Rack')"]
    assert await asyncio.to_thread(main, ["check-config", str(config_path)]) == 0
    assert f"warning: {warnings[0]}" in capsys.readouterr().err
