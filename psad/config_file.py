"""Reading psad.toml: the parser (:mod:`psad.config`) with every connector kind's settings.

:mod:`psad.config` knows the sections but not the connectors; this module
hands it their settings tables. The CLI and the daemon both load through here.
"""

from __future__ import annotations

import sys
from pathlib import Path

from psad.config import Config, Kinds, read_config
from psad.connectors import CONNECTORS
from psad.errors import ConfigError
from psad.exit_codes import EXIT_CONFIG


def connector_settings() -> Kinds:
    return {kind: connector.settings for kind, connector in CONNECTORS.items()}


def load_config(path: Path) -> Config:
    """Read and validate a config file (blocking; call before the loop or in a thread)."""
    return read_config(path, connector_settings())


def print_problems(path: Path, problems: list[str]) -> None:
    for problem in problems:
        print(f"{path}: {problem}" if not problem.startswith(str(path)) else problem,
              file=sys.stderr)


def load_or_exit(path: Path) -> Config:
    """The config, or every problem printed to stderr and exit code 2."""
    try:
        return load_config(path)
    except ConfigError as err:
        print_problems(path, err.problems)
        raise SystemExit(EXIT_CONFIG) from None
