"""The ``psad`` command's exit codes (README: "Exit codes")."""

from __future__ import annotations

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_PARTIAL = 0, 1, 2, 3
"""Success; a sync failed or the daemon could not be reached; invalid configuration or
usage; a sync ended ``partial``."""
