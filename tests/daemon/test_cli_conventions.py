"""Command-line conventions: --version, help and defaults, log options, exit 2, tables, logs."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest

from conftest import write_config
from psad.cli import SIMULATOR_KINDS, build_parser, main
from psad.client_cli import ProgressView
from psad.config_file import load_config
from psad.logs import setup_logging
from psad.progress import RunProgress
from psad.store import Store
from psad.sync_once import sync_once
from psad.tables import format_table
from psad.version import psad_version


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"psad {psad_version()}"
    assert psad_version()[0].isdigit()


def test_every_option_of_every_command_has_help_and_shows_its_default() -> None:
    parser = build_parser()
    for name, command in {"psad": parser, **subcommands(parser)}.items():
        for action in command._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            assert action.help, (name, action.dest)
        text = command.format_help()
        for action in command._actions:
            if action.option_strings and action.default not in (None, False, argparse.SUPPRESS) \
                    and not isinstance(action, argparse._VersionAction):
                assert f"(default: {action.default})" in " ".join(text.split()), \
                    (name, action.dest)


@pytest.mark.parametrize("argv", [
    ["--log-level", "debug", "status"], ["status", "--log-level", "Debug"],
    ["--log-level", "warning", "check-config", "x.toml", "--log-level", "DEBUG"],
    ["simulate", "halo", "--log-level", "debug"]])
def test_log_level_is_taken_by_every_command_in_any_case(argv: list[str]) -> None:
    assert build_parser().parse_args(argv).log_level == "DEBUG"


def test_log_options_given_before_the_command_are_kept() -> None:
    args = build_parser().parse_args(["--log-level", "error", "--log-format", "json", "runs"])
    assert (args.log_level, args.log_format) == ("ERROR", "json")


@pytest.mark.parametrize("argv", [["status", "--nosuch"], ["simulate", "nosuch"],
                                  ["--log-level", "loud", "status"]])
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    if argv[0] == "simulate":
        err = capsys.readouterr().err
        assert all(kind in err for kind in SIMULATOR_KINDS), err


async def test_sync_once_with_an_unknown_integration_exits_2_naming_the_known_ones(
        tmp_path: Path, cw_sim: Any, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, [cw_sim])
    code = await asyncio.to_thread(main, ["sync-once", "-c", str(config), "nosuch"])
    assert code == 2
    assert "no integration named 'nosuch' (configured: demo-connectwise)" in \
        capsys.readouterr().err


@pytest.mark.usefixtures("database")
async def test_sync_once_prints_an_aligned_table(tmp_path: Path, cw_sim: Any,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, [cw_sim])
    code = await asyncio.to_thread(main, ["sync-once", "-c", str(config), "demo-connectwise"])
    assert code == 0
    lines = capsys.readouterr().out.splitlines()[1:]
    assert lines[0].split() == ["entity", "mode", "fetched", "created", "updated", "unchanged",
                                "deleted", "rejected", "requests"]
    assert len(lines) == 9 and len({len(line) for line in lines}) == 1  # right-aligned numbers
    header = lines[0]
    for line in lines[1:]:  # every value ends where its column's heading ends
        for word in ("fetched", "requests"):
            end = header.index(word) + len(word)
            assert line[end - 1] != " " and (end == len(line) or line[end] == " "), line


def test_a_table_is_as_wide_as_its_widest_cell() -> None:
    text = format_table(("entity", "n"), [("company_statuses", 2), ("assets", 12000)],
                        right=frozenset({"n"}))
    assert text.splitlines() == ["entity                 n",
                                 "company_statuses       2",
                                 "assets            12,000"]


@pytest.mark.usefixtures("database")
async def test_sync_once_reports_progress_while_it_runs(tmp_path: Path, cw_sim: Any) -> None:
    config = load_config(write_config(tmp_path, [cw_sim]))
    cw_sim.faults.latency = 0.02
    heard: list[dict[str, Any]] = []

    def hear(progress: RunProgress) -> None:
        heard.append(progress.as_dict())

    report = await sync_once(config, config.integrations[0], full=False, requested_by="test",
                             on_progress=hear, every=0.05)
    assert report.outcome == "succeeded"
    assert heard and heard[-1]["fetched"] > 0
    assert [h["fetched"] for h in heard] == sorted(h["fetched"] for h in heard)


def test_identical_log_lines_are_collapsed_with_a_count(
        capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("info")
    log = logging.getLogger("psad.test")
    for _ in range(12):
        log.error("GET /companies: HTTP 401: bad key")
    log.error("something else")
    logging.getLogger().handlers[0].close()
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3, lines
    assert lines[0].endswith("GET /companies: HTTP 401: bad key")
    assert lines[1].endswith("(the line above came 11 more times)")
    assert lines[2].endswith("something else")


def test_json_log_format_writes_one_object_a_line(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO", "json")
    logging.getLogger("psad.test").warning("token=%s here", "abcdefghijkl")
    entry = json.loads(capsys.readouterr().err.strip())
    assert entry["level"] == "WARNING" and entry["logger"] == "psad.test"
    assert entry["message"] == "token=*** here"


async def test_debug_logs_leave_out_the_database_drivers_internals(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("DEBUG")
    store = await Store.open(tmp_path / "psad.db")
    await store.list_runs(limit=5)
    await store.close()
    logging.getLogger("psad.test").debug("a psad debug line")
    err = capsys.readouterr().err
    assert "a psad debug line" in err and "aiosqlite" not in err


def running_progress() -> dict[str, Any]:
    progress = RunProgress()
    progress.start("companies").done = True
    assets = progress.start("assets")
    assets.fetched, assets.written, assets.total = 300, 280, 1200
    return progress.as_dict()


def test_sync_wait_draws_a_bar_on_a_terminal(capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    view = ProgressView(terminal=True)
    view.show(running_progress())
    assert len(capsys.readouterr().out) == 60  # "\r" and the line cut to the terminal
    monkeypatch.setenv("COLUMNS", "200")
    view.show(running_progress())
    view.show(running_progress())
    view.end()
    out = capsys.readouterr().out
    assert out.count("\r[") == 2 and out.endswith("\n")
    drawn = out.split("\r")[-1]
    assert re.match(r"\[#+\.+\]\s+15\.6% 1/8 entities done, 300 fetched", drawn), drawn
    assert "assets 300 of 1,200 (25%" in drawn


def test_sync_wait_prints_plain_lines_now_and_then_when_not_a_terminal(
        capsys: pytest.CaptureFixture[str]) -> None:
    view = ProgressView(terminal=False)
    for _ in range(5):
        view.show(running_progress())
    view.end()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and "\r" not in lines[0] and "[#" not in lines[0]
    assert lines[0].strip().startswith("1/8 entities done, 300 fetched, 280 written")
