"""The interpreter settings a syncing process runs with."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator

import pytest

from psad.interpreter import GC_YOUNG_THRESHOLD, GIL_SWITCH_INTERVAL, tune_interpreter


@pytest.fixture
def restored_interpreter() -> Iterator[None]:
    interval, threshold = sys.getswitchinterval(), gc.get_threshold()
    yield
    sys.setswitchinterval(interval)
    gc.set_threshold(*threshold)


def test_tuning_shortens_gil_turns_and_spaces_young_collections(
        restored_interpreter: None) -> None:
    _, middle, old = gc.get_threshold()
    tune_interpreter()
    assert sys.getswitchinterval() == pytest.approx(GIL_SWITCH_INTERVAL)
    assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, middle, old)
