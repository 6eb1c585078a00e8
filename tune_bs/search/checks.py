"""Generic checks of a search-space file: keys, mappings, numbers and declared options.

Every check raises a :class:`~tune_bs.errors.UserInputError` of one line that names the field,
the bad value and the fix. Options are checked from their declarations
(:mod:`tune_bs.options`), in two wordings:

- a *trial value* (``param_space.<key>``, each value a parameter can take): a name must be one of
  its ``choices``; a number must be of its type and within ``minimum`` / ``maximum``;
- a *section value* (``scheduler.<key>``, ``search.<key>``): names and numbers likewise, worded
  for a section ("raise it to N or more", "between 0 and M"); ``bool`` options must be true or
  false; ``sizes`` must list two or more distinct batch sizes of at least 2.

:func:`check_component` checks a whole section naming a registry entry (``name`` plus the
entry's options), then builds the entry's options class so its own checks run too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from tune_bs.errors import UserInputError, did_you_mean, unknown_name
from tune_bs.options import Option, options_of


def check_keys(section: str, given: dict[str, Any], allowed: tuple[str, ...]) -> None:
    """Refuse a key of ``given`` that is not in ``allowed``, with a did-you-mean."""
    for key in given:
        if key not in allowed:
            where = f"{section}.{key}" if section else str(key)
            raise UserInputError(
                f"{where} is not a known key{did_you_mean(str(key), allowed)}; "
                f"valid keys{' of ' + section if section else ''} are {', '.join(allowed)}."
            )


def mapping(section: str, value: Any) -> dict[str, Any]:
    """``value`` as a mapping (``None``: empty); anything else is refused."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UserInputError(
            f"{section} must be a mapping (key: value lines), but got {section}={value!r}; "
            f"write e.g. {section}: {{name: ...}}."
        )
    return value


def number(
    where: str,
    value: Any,
    *,
    integer: bool = False,
    minimum: float | None = None,
    exclusive: bool = False,
) -> float:
    """``value`` if it is a finite number (an integer when ``integer``) at least ``minimum``
    (greater, when ``exclusive``)."""
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if ok and integer and float(value) != int(value):
        ok = False
    if not ok or not math.isfinite(float(value)):
        kind = "an integer" if integer else "a number"
        raise UserInputError(f"{where} must be {kind}, but got {where}={value!r}; fix the value.")
    if minimum is not None and (value <= minimum if exclusive else value < minimum):
        bound = f"greater than {minimum}" if exclusive else f"at least {minimum}"
        raise UserInputError(f"{where} must be {bound}, but got {where}={value!r}; fix the value.")
    return value


def check_trial_value(key: str, value: Any, opt: Option) -> None:
    """Check one value ``param_space.<key>`` can take against its declaration."""
    where = f"param_space.{key}"
    b = opt.bounds
    choices = opt.choices
    if choices is not None and value not in choices:
        raise unknown_name(where, value, choices)
    if b.minimum is not None:
        number(where, value, integer=opt.type == "int", minimum=b.minimum, exclusive=b.exclusive)
    if b.maximum is not None and value > b.maximum:
        raise UserInputError(
            f"{where} must be at most {b.maximum:g}, but got {value!r}; "
            f"give a value between {b.minimum:g} and {b.maximum:g}."
        )


def _check_sizes(where: str, value: Any) -> None:
    if not isinstance(value, list) or len(value) < 2:
        raise UserInputError(
            f"{where} must list at least two batch sizes, but got {where}={value!r}; "
            "write e.g. batch_sizes: [8, 16, 32]."
        )
    for size in value:
        number(where, size, integer=True, minimum=2)
    if len(set(value)) != len(value):
        raise UserInputError(f"{where} lists a batch size twice, in {value}; remove the duplicate.")


def check_section_value(where: str, value: Any, opt: Option) -> None:
    """Check the value of ``<section>.<key>`` against its declaration."""
    b = opt.bounds
    choices = opt.choices
    if choices is not None:
        if value not in choices:
            raise unknown_name(where, value, choices)
    elif opt.type == "bool":
        if not isinstance(value, bool):
            raise UserInputError(
                f"{where} must be true or false, but got {where}={value!r}; write true or false."
            )
    elif opt.type == "sizes":
        _check_sizes(where, value)
    elif opt.type == "int":
        number(where, value, integer=True)
        if b.minimum is not None and value < b.minimum:
            raise UserInputError(
                f"{where} must be at least {b.minimum}, but got {where}={value}; "
                f"raise it to {b.minimum} or more."
            )
    else:
        number(where, value, minimum=b.minimum)
        if b.maximum is not None and value > b.maximum:
            raise UserInputError(
                f"{where} must be between {b.minimum} and {b.maximum}, but got "
                f"{where}={value}; lower it."
            )


def check_component(section: str, given: dict[str, Any], registry: Mapping[str, Any]) -> None:
    """Check a section ``{name: <entry of registry>, **options}`` (module rules).

    The entry's options class is then built from the given values (``sizes`` options and
    missing required ones replaced by their placeholders), so its own checks run; their error
    is prefixed with ``<section>:``.
    """
    name = given.get("name")
    if name not in registry:
        raise unknown_name(f"{section}.name", name, registry)
    options = {opt.name: opt for opt in options_of(registry[name].Options)}
    check_keys(section, given, ("name", *options))
    for key, value in given.items():
        if key != "name":
            check_section_value(f"{section}.{key}", value, options[key])
    values = {k: v for k, v in given.items() if k != "name"}
    for opt in options.values():
        if opt.type == "sizes" or (opt.required and opt.name not in values):
            values[opt.name] = opt.bounds.placeholder
    try:
        registry[name].Options(**values)
    except UserInputError as exc:
        raise UserInputError(f"{section}: {exc}") from None
