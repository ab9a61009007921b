"""``sync.delete_guard_days``: the mass-delete guard's window, read and checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from psad.config_file import load_config
from psad.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def config_with(tmp_path: Path, sync: str) -> Path:
    path = tmp_path / "psad.toml"
    path.write_text('database = "psad.db"\n[server]\napi_token = { env = "PSAD_TEST_TOKEN" }\n'
                    f"[sync]\n{sync}\n")
    return path


def test_delete_guard_days_is_read_from_the_sync_table(tmp_path: Path) -> None:
    assert load_config(config_with(tmp_path, "delete_guard_days = 3")).sync.delete_guard_days == 3
    assert load_config(ROOT / "etc" / "psad.toml").sync.delete_guard_days == 7


def test_delete_guard_days_out_of_range_is_refused_with_its_key_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(config_with(tmp_path, "delete_guard_days = -1"))
    assert "sync.delete_guard_days: must be between 0 and 365" in "\n".join(caught.value.problems)
