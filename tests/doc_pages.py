"""The text of the README and of the documentation pages under ``docs/``, for the tests that run
or check their code blocks (tests/test_docs.py keeps the list of which test does which)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[1]
DOCS = ROOT / "docs"
#: a fenced block: its language (maybe empty) and its text
FENCE = re.compile(r"^```([^\s`]*)[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)
HEADING = re.compile(r"^(#{1,6}) ", re.M)


def read(page: str) -> str:
    """A page by its path from the repository root (``README.md``, ``docs/guide/data.md``)."""
    return (ROOT / page).read_text(encoding="utf-8")


def pages() -> list[str]:
    """Every Markdown page of the site and the README, as paths from the repository root; the
    pages waiting in ``docs/_incoming`` and Sphinx's own output are not part of the site."""
    found = [
        path.relative_to(ROOT).as_posix()
        for path in sorted(DOCS.rglob("*.md"))
        if not {"_incoming", "_build"} & set(path.relative_to(DOCS).parts)
    ]
    return ["README.md", *found]


def section(text: str, heading: str) -> str:
    """The part of ``text`` under the heading whose title is ``heading`` (any level), up to the
    next heading of the same or a higher level."""
    match = re.search(rf"^(#{{1,6}}) {re.escape(heading)}[ \t]*$", text, re.M)
    assert match, f"no heading {heading!r}"
    level = len(match.group(1))
    rest = text[match.end() :]
    for later in HEADING.finditer(rest):
        if len(later.group(1)) <= level:
            return rest[: later.start()]
    return rest


def blocks(text: str, language: str) -> list[str]:
    """The fenced blocks of ``text`` in ``language`` (``python``, ``yaml``, ``bash``), in order."""
    return [body for lang, body in FENCE.findall(text) if lang == language]


def code_lines(text: str) -> list[str]:
    """Every line of code in ``text``: those of fenced blocks and of indented (4-space) blocks."""
    lines = [line for _, body in FENCE.findall(text) for line in body.splitlines()]
    in_block, previous_blank = False, True
    for line in FENCE.sub("", text).splitlines():
        if line.startswith("    ") and line.strip() and (in_block or previous_blank):
            lines.append(line[4:])
            in_block = True
        elif line.strip():
            in_block = False
        previous_blank = not line.strip()
    return lines
