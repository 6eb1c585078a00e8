"""The one exception type for mistakes a user can fix, and how a message quotes a value.

A :class:`UserInputError` carries a single line that states the rule, the bad value and the fix
(STYLE "Errors and messages"). The CLI prints it without a traceback and exits with status 2;
``--debug`` shows the traceback too.

Every value a message echoes back to the user goes through :func:`quote`: at most
:data:`QUOTE_LIMIT` characters, one line, and bounded work whatever the value is (a list nested
a thousand times, a string of a gigabyte): a hostile file never turns an error into megabytes.
"""

from __future__ import annotations

import difflib
import reprlib
from collections.abc import Iterable

#: The most characters of a user's value a message quotes (:func:`quote`).
QUOTE_LIMIT = 200


def _quoter() -> reprlib.Repr:
    """``repr`` with every container and string cut short (the work is bounded too)."""
    r = reprlib.Repr()
    r.maxlevel = 4
    r.maxtuple = r.maxlist = r.maxarray = r.maxset = r.maxfrozenset = r.maxdeque = 12
    r.maxdict = 8
    r.maxstring = r.maxlong = r.maxother = QUOTE_LIMIT
    return r


_QUOTER = _quoter()


def quote(value: object, limit: int = QUOTE_LIMIT) -> str:
    """``repr(value)`` for a message: one line of at most ``limit`` characters.

    Small values read as ``repr`` reads them (``'fast'``, ``[8, 16]``, ``0.1``); a longer one is
    cut with ``...`` and ends by saying how long the text was when it is a string. Nested
    containers show 4 levels and 12 items each, so quoting costs little whatever ``value`` is.
    """
    if isinstance(value, str) and len(value) > limit:
        head = repr(value[: max(limit - 40, 10)])
        return f"{head[:-1]}...{head[-1]} ({len(value)} characters)"
    try:
        text = _QUOTER.repr(value)
    except Exception:  # a value whose __repr__ fails still gets a message
        text = f"<{type(value).__name__}>"
    text = " ".join(text.splitlines())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class UserInputError(ValueError):
    """A bad input the user can correct: bad search-space field, unknown name, unreadable file."""


def did_you_mean(value: object, valid: Iterable[str]) -> str:
    """``" (did you mean 'x'?)"`` for the closest valid name, or ``""`` when none is close."""
    text = value if isinstance(value, str) else quote(value)
    close = difflib.get_close_matches(text[:QUOTE_LIMIT], list(valid), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def unknown_name(field: str, value: object, valid: Iterable[str]) -> UserInputError:
    """Build the error for a name that is not in a registry, listing the valid names."""
    names = sorted(valid)
    return UserInputError(
        f"{field} must be one of {', '.join(names)}, but got {field}={quote(value)}"
        f"{did_you_mean(value, names)}."
    )
