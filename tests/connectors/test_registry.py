"""The PSA registry: one entry per vendor, and every list of kinds agrees with it."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import pytest
from aiohttp import web

from conftest import ROOT
from psad import cli
from psad.connectors import CONNECTORS, registry
from psad.connectors.base import Connector
from psad.simulators.serve import SIMULATORS
from test_all_psas import KINDS


def all_connector_classes() -> set[type[Connector]]:
    """Every concrete connector (a vendor package's partial, abstract bases are not)."""
    found: set[type[Connector]] = set()
    todo = list(Connector.__subclasses__())
    while todo:
        cls = todo.pop()
        if not inspect.isabstract(cls):
            found.add(cls)
        todo.extend(cls.__subclasses__())
    return found


def test_every_connector_is_registered_once_with_a_simulator_and_a_name() -> None:
    assert {p.connector for p in registry.PSAS} == all_connector_classes()
    assert len(registry.KINDS) == len(set(registry.KINDS)) == len(registry.PSAS)
    for psa in registry.PSAS:
        assert psa.simulator in SIMULATORS, f"{psa.kind} has no simulator"
        assert psa.display_name and psa.display_name != psa.kind
        assert psa.settings == psa.connector.settings
    assert sorted(p.simulator for p in registry.PSAS) == sorted(SIMULATORS)
    assert {p.display_name for p in registry.PSAS} == {
        "ConnectWise PSA", "Autotask", "Syncro", "Kaseya BMS", "HaloPSA"}
    assert registry.display_name("kaseya_bms") == "Kaseya BMS"
    assert registry.display_name("nosuch") == "nosuch"


def test_every_list_of_kinds_derives_from_the_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT))  # bench/ is not installed
    from bench import __main__ as bench_main
    from bench import simserver

    kinds = set(registry.KINDS)
    assert set(CONNECTORS) == kinds
    assert set(cli.SIMULATOR_KINDS) == {p.simulator for p in registry.PSAS}
    assert set(bench_main.KINDS) == kinds
    assert set(simserver.SIMULATORS) == set(SIMULATORS)
    assert set(KINDS) == kinds


def test_simulate_and_the_benchmark_simulator_offer_every_kind() -> None:
    for argv in ([str(Path(sys.executable).with_name("psad")), "simulate", "--help"],
                 [sys.executable, "-m", "bench.simserver", "--help"]):
        out = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=True).stdout
        for psa in registry.PSAS:
            assert psa.simulator in out, (argv, psa.simulator)


def test_every_simulator_is_the_one_its_package_declares_and_lifts_its_limits() -> None:
    """The registry names the simulators; each package declares itself (a sixth PSA's
    simulator is found without editing serve.py or the benchmark's simulator server)."""
    from importlib import import_module

    from psad.simulators.dataset import Dataset

    dataset = Dataset.generate(1, companies=2, sites_per_company=1, assets=2, contacts=2,
                               tickets=2)
    for psa in registry.PSAS:
        spec = SIMULATORS[psa.simulator]
        assert spec is import_module(f"psad.simulators.{psa.simulator}").SIMULATOR
        assert spec.kind == psa.simulator
        assert isinstance(spec.create(dataset, **spec.unlimited), web.Application)
