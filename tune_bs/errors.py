"""The one exception type for mistakes a user can fix.

A :class:`UserInputError` carries a single line that states the rule, the bad value and the fix
(STYLE "Errors and messages"). The CLI prints it without a traceback and exits with status 2;
``--debug`` shows the traceback too.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class UserInputError(ValueError):
    """A bad input the user can correct: bad search-space field, unknown name, unreadable file."""


def did_you_mean(value: str, valid: Iterable[str]) -> str:
    """``" (did you mean 'x'?)"`` for the closest valid name, or ``""`` when none is close."""
    close = difflib.get_close_matches(str(value), list(valid), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def unknown_name(field: str, value: object, valid: Iterable[str]) -> UserInputError:
    """Build the error for a name that is not in a registry, listing the valid names."""
    names = sorted(valid)
    return UserInputError(
        f"{field} must be one of {', '.join(names)}, but got {field}={value!r}"
        f"{did_you_mean(str(value), names)}."
    )
