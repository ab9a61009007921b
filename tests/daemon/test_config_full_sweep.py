"""``sync.full_sweep_triggers``: which runs list every id whatever the counts say."""

from __future__ import annotations

from pathlib import Path

import pytest

from psad.config_file import load_config
from psad.errors import ConfigError
from test_config import GOOD, write


def test_the_nightly_run_is_the_full_sweep_by_default(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, GOOD)).sync.full_sweep_triggers == ("nightly",)


def test_full_sweep_triggers_are_configurable_and_checked(tmp_path: Path) -> None:
    text = GOOD.replace('[server]', '[sync]\nfull_sweep_triggers = ["nightly", "manual"]\n'
                        '[server]')
    assert load_config(write(tmp_path, text)).sync.full_sweep_triggers == ("nightly", "manual")
    with pytest.raises(ConfigError, match=r"sync\.full_sweep_triggers.*weekly"):
        load_config(write(tmp_path, text.replace('"manual"', '"weekly"')))
