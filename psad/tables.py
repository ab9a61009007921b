"""Plain-text tables for the command line, every column as wide as its widest cell."""

from __future__ import annotations

from collections.abc import Sequence


def format_table(header: Sequence[str], rows: Sequence[Sequence[object]], *,
                 right: frozenset[str] = frozenset()) -> str:
    """``header`` and ``rows`` aligned; columns named in ``right`` (numbers) align right."""
    cells = [[str(h) for h in header]] + [[_text(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = []
    for row in cells:
        parts = [cell.rjust(width) if name in right else cell.ljust(width)
                 for name, cell, width in zip(header, row, widths)]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


def _text(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)
