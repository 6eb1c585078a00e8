"""Experiment names: one folder name inside ``--storage`` (docs/design.md §9: names never
escape it).

A run's results land in ``STORAGE/NAME``; the name comes from the search space's ``name``, from
``--name``, or from the space file's name. :func:`check_name` refuses any name that is not a
single path component, so nothing is ever written beside or above ``STORAGE``.
"""

from __future__ import annotations

import unicodedata

from tune_bs.errors import UserInputError

#: Characters a name may not hold: path separators on any platform (a results folder is one
#: folder, on a local disk or in a bucket).
_SEPARATORS = ("/", "\\")


def check_name(value: object, field: str = "name") -> str:
    """``value`` as an experiment name: one path component, so ``STORAGE/NAME`` stays inside
    ``STORAGE``.

    Refused with a one-line :class:`UserInputError` naming ``field``: a value that is not a
    string or a number, is empty after stripping white space, is ``.`` or ``..``, or holds a
    path separator (``/`` or ``\\``) or a control character (Unicode category ``Cc``:
    newlines, tabs, NUL, escape, ...). The name is returned as given, not stripped.
    """
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise UserInputError(
            f"{field} must be a folder name (text), but got {field}={str(value)[:200]!r}; "
            "give e.g. name: gunpoint-bs."
        )
    text = str(value)
    shown = repr(text[:200])
    problem = None
    if not text.strip():
        problem = "is empty"
    elif text.strip() in (".", ".."):
        problem = "names the folder itself or its parent"
    elif any(sep in text for sep in _SEPARATORS):
        problem = "holds a path separator"
    elif any(unicodedata.category(ch) == "Cc" for ch in text):
        problem = "holds a control character"
    if problem:
        raise UserInputError(
            f"{field} must be one folder name inside --storage, but got {field}={shown}, which "
            f"{problem}; give a plain name such as gunpoint-bs (use --storage to choose where "
            "results go)."
        )
    return text
