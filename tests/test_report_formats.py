"""Every table format is produced and read back (markdown, CSV, LaTeX tabular, HTML)."""

from __future__ import annotations

import io
import math
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from tune_bs.errors import UserInputError
from tune_bs.report.formats import format_value, latex_escape, render


@pytest.fixture
def table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "trial_id": ["a_00000", "a_00001", "a_00002"],
            "batch_size_schedule": ["0:16;150:32", "0:32", None],
            "switches": pd.array([1, 0, None], dtype="Int64"),
            "val_probe_acc": [0.91234567, 0.5, math.nan],
            "time_total_s": [1234.5678, 2.0, math.nan],
            "note": ["a|b", "50% & $x_1$", "±→"],
        }
    )


def _markdown_rows(text: str) -> list[list[str]]:
    lines = text.strip().splitlines()
    assert set(lines[1].replace("|", "").replace(" ", "")) <= {"-", ":"}
    rows = []
    for line in [lines[0], *lines[2:]]:
        cells = line.strip()[1:-1].replace("\\|", "\0").split("|")
        rows.append([c.strip().replace("\0", "|") for c in cells])
    return rows


def test_markdown_reads_back(table) -> None:
    rows = _markdown_rows(render(table, "markdown"))
    assert rows[0] == list(table.columns)
    assert rows[1] == ["a_00000", "0:16;150:32", "1", "0.9123", "1234.6", "a|b"]
    assert rows[3] == ["a_00002", "", "", "", "", "±→"]
    # numeric columns are right-aligned
    rule = render(table, "markdown").splitlines()[1].split("|")[1:-1]
    assert [cell.strip().endswith(":") for cell in rule] == [False, False, True, True, True, False]


def test_csv_round_trips_through_pandas(table) -> None:
    back = pd.read_csv(io.StringIO(render(table, "csv")))
    assert list(back.columns) == list(table.columns)
    assert back["trial_id"].tolist() == table["trial_id"].tolist()
    np.testing.assert_array_equal(
        back["val_probe_acc"].to_numpy(), table["val_probe_acc"].to_numpy()
    )
    np.testing.assert_array_equal(
        back["switches"].to_numpy(float), table["switches"].to_numpy(float, na_value=np.nan)
    )
    assert back["note"].tolist() == table["note"].tolist()


def test_latex_is_a_plain_tabular(table) -> None:
    text = render(table, "latex")
    lines = text.strip().splitlines()
    assert lines[0] == r"\begin{tabular}{llrrrl}"
    assert lines[-1] == r"\end{tabular}"
    rows = [line for line in lines if line.endswith(r"\\")]
    assert len(rows) == 1 + len(table)
    assert rows[0].startswith(r"trial\_id & batch\_size\_schedule")
    assert rows[2].split(" & ")[-1] == r"50\% \& \$x\_1\$ \\"
    assert r"$\pm$$\to$" in rows[3]
    assert all(row.count(" & ") == len(table.columns) - 1 for row in rows)


class _Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data) -> None:
        if self._cell is not None:
            self._cell.append(data)


def test_html_parses_back(table) -> None:
    text = render(table, "html")
    parser = _Cells()
    parser.feed(text)
    assert text.startswith("<table") and text.rstrip().endswith("</table>")
    assert parser.rows[0] == list(table.columns)
    assert parser.rows[1] == ["a_00000", "0:16;150:32", "1", "0.9123", "1234.6", "a|b"]
    assert parser.rows[2][-1] == "50% & $x_1$"  # escaped in the source, restored by parsing
    assert "&amp;" in text
    assert len(parser.rows) == 1 + len(table)


def test_unknown_format_is_a_user_error(table) -> None:
    with pytest.raises(UserInputError, match="format must be one of csv, html, latex, markdown"):
        render(table, "xlsx")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (math.nan, ""),
        (pd.NA, ""),
        (True, "True"),
        (np.int64(16), "16"),
        (300.0, "300"),
        (0.123456, "0.1235"),
        (12345.678, "12345.7"),
        (math.inf, "inf"),
        ("fixed", "fixed"),
    ],
)
def test_format_value(value, text) -> None:
    assert format_value(value) == text


def test_latex_escape() -> None:
    assert latex_escape("a_b & 5% {x} ~^\\") == (
        r"a\_b \& 5\% \{x\} \textasciitilde{}\textasciicircum{}\textbackslash{}"
    )
