"""Render a table as markdown, CSV, LaTeX ``tabular`` or HTML, with no optional dependency.

Markdown and LaTeX are written here (``DataFrame.to_markdown`` needs ``tabulate`` and
``DataFrame.to_latex`` needs ``jinja2``, neither a tune-bs dependency). CSV keeps full precision and
reads back with ``pandas.read_csv``; the other formats round numbers for reading.
"""

from __future__ import annotations

import html
import math
import numbers
from typing import Any

import pandas as pd

from tune_bs.errors import unknown_name

#: Format name -> file extension.
FORMATS: dict[str, str] = {"markdown": "md", "csv": "csv", "latex": "tex", "html": "html"}

_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "±": r"$\pm$",
    "→": r"$\to$",
}


def render(table: pd.DataFrame, fmt: str = "markdown") -> str:
    """Render ``table`` (its columns, not its index) in ``fmt``.

    Args:
        table: any frame; floats are shown with 4 significant digits (1 decimal from 100 up) except
            in CSV, whole numbers without decimals, missing values as an empty cell.
        fmt: ``"markdown"`` (a GitHub pipe table), ``"csv"``, ``"latex"`` (a ``tabular``
            environment, no package needed) or ``"html"`` (a ``<table>``).

    Raises:
        UserInputError: ``fmt`` is not one of :data:`FORMATS`.
    """
    if fmt not in FORMATS:
        raise unknown_name("format", fmt, FORMATS)
    if fmt == "csv":
        return table.to_csv(index=False)
    header = [str(c) for c in table.columns]
    numeric = [pd.api.types.is_numeric_dtype(table[c]) for c in table.columns]
    body = [[format_value(v) for v in row] for row in table.itertuples(index=False, name=None)]
    if fmt == "markdown":
        return _markdown(header, body, numeric)
    if fmt == "latex":
        return _latex(header, body, numeric)
    return _html(header, body, numeric)


def format_value(value: Any) -> str:
    """One cell as text: ``""`` for missing, ints plain, floats rounded for reading."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        number = float(value)
        if math.isnan(number):
            return ""
        if math.isinf(number):
            return "inf" if number > 0 else "-inf"
        if number.is_integer() and abs(number) < 1e15:
            return str(int(number))
        if abs(number) >= 100:
            return f"{number:.1f}"
        return f"{number:.4g}"
    return str(value)


def _markdown(header: list[str], body: list[list[str]], numeric: list[bool]) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    widths = [
        max([len(cell(h)), 3, *(len(cell(r[i])) for r in body)]) for i, h in enumerate(header)
    ]

    def line(cells: list[str]) -> str:
        padded = [
            cell(c).rjust(w) if num else cell(c).ljust(w)
            for c, w, num in zip(cells, widths, numeric, strict=True)
        ]
        return "| " + " | ".join(padded) + " |"

    rule = (
        "| "
        + " | ".join(
            ("-" * (w - 1) + ":") if num else "-" * w
            for w, num in zip(widths, numeric, strict=True)
        )
        + " |"
    )
    return "\n".join([line(header), rule, *(line(r) for r in body)]) + "\n"


def latex_escape(text: str) -> str:
    """Escape LaTeX's special characters (and write ± and → in math mode)."""
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def _latex(header: list[str], body: list[list[str]], numeric: list[bool]) -> str:
    spec = "".join("r" if num else "l" for num in numeric)
    lines = [f"\\begin{{tabular}}{{{spec}}}", r"\hline"]
    lines.append(" & ".join(latex_escape(h) for h in header) + r" \\")
    lines.append(r"\hline")
    lines.extend(" & ".join(latex_escape(c) for c in row) + r" \\" for row in body)
    lines += [r"\hline", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def _html(header: list[str], body: list[list[str]], numeric: list[bool]) -> str:
    def td(tag: str, text: str, num: bool) -> str:
        style = ' style="text-align: right"' if num else ""
        return f"<{tag}{style}>{html.escape(text)}</{tag}>"

    lines = ['<table class="tune-bs">', "  <thead>"]
    lines.append("    <tr>" + "".join(td("th", h, n) for h, n in zip(header, numeric, strict=True)))
    lines[-1] += "</tr>"
    lines += ["  </thead>", "  <tbody>"]
    for row in body:
        cells = "".join(td("td", c, n) for c, n in zip(row, numeric, strict=True))
        lines.append(f"    <tr>{cells}</tr>")
    lines += ["  </tbody>", "</table>"]
    return "\n".join(lines) + "\n"
