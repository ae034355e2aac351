"""The table every benchmark prints: what was measured, the figure, its target, met or not."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Row", "print_table"]


@dataclass
class Row:
    """One line of a table; ``met`` is None when the line has no target."""

    what: str
    figure: str
    target: str = ""
    met: bool | None = None


def print_table(title: str, rows: Sequence[Row]) -> None:
    """``title``, then the rows aligned."""
    print(f"\n{title}\n")
    width = max(len(r.what) for r in rows)
    print(f"{'what':<{width}}  {'figure':>26}  {'target':<14} met")
    for row in rows:
        met = "" if row.met is None else ("yes" if row.met else "NO")
        print(f"{row.what:<{width}}  {row.figure:>26}  {row.target:<14} {met}")
