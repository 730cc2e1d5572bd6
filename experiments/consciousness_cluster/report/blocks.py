"""The report's building blocks (headings, paragraphs, tables, images) and its number formats."""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Heading", "Image", "Para", "Table", "fmt", "fmt_p", "p_with_floor"]


def fmt(value: float) -> str:
    """The one number format of the report."""
    return f"{value:+.2f}" if isinstance(value, float) and value < 0 else f"{value:.2f}"


def fmt_p(p: float | None) -> str:
    """A p-value: three significant digits, scientific below 0.001; "n/a" when undefined."""
    if p is None or not math.isfinite(p):
        return "n/a"
    return f"{p:.1e}" if p < 0.001 else f"{p:.3g}"


def p_with_floor(p: float, n_null: int) -> str:
    """An empirical p beside the floor its null allows: "p = 0.0476 (floor 1/21 = 0.0476, 20 draws)"."""
    floor = 1 / (n_null + 1)
    at = " (on the floor)" if math.isfinite(p) and p <= floor * (1 + 1e-9) else ""
    return f"p = {fmt_p(p)}{at}, floor 1/{n_null + 1} = {fmt_p(floor)} ({n_null} null draws)"


@dataclass
class Heading:
    text: str
    level: int = 2


@dataclass
class Para:
    text: str


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]


@dataclass
class Image:
    path: str
    alt: str
