"""Generic checks of a search-space file: keys, mappings, numbers and declared options.

Every check raises a :class:`~tune_bs.errors.UserInputError` of one line that names the field,
the bad value and the fix. Options are checked from their declarations
(:mod:`tune_bs.options`, which holds the section-value check that
:class:`~tune_bs.schedule.switching.SwitchSettings` also runs on itself), in two wordings:

- a *trial value* (``param_space.<key>``, each value a parameter can take): a name must be one of
  its ``choices``; a number must be of its type and within ``minimum`` / ``maximum``;
- a *section value* (``scheduler.<key>``, ``search.<key>``): names and numbers likewise, worded
  for a section ("raise it to N or more", "between 0 and M"); ``bool`` options must be true or
  false; ``sizes`` must list two or more distinct batch sizes of at least 2.

:func:`check_component` checks a whole section naming a registry entry (``name`` plus the
entry's options), then builds the entry's options class so its own checks run too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tune_bs.errors import UserInputError, did_you_mean, quote, unknown_name
from tune_bs.options import Option, check_section_value, number, options_of


def check_keys(section: str, given: dict[str, Any], allowed: tuple[str, ...]) -> None:
    """Refuse a key of ``given`` that is not in ``allowed``, with a did-you-mean."""
    for key in given:
        if key not in allowed:
            where = f"{section}.{key}" if section else str(key)
            raise UserInputError(
                f"{where} is not a known key{did_you_mean(key, allowed)}; "
                f"valid keys{' of ' + section if section else ''} are {', '.join(allowed)}."
            )


def mapping(section: str, value: Any) -> dict[str, Any]:
    """``value`` as a mapping (``None``: empty); anything else is refused."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UserInputError(
            f"{section} must be a mapping (key: value lines), but got {section}={quote(value)}; "
            f"write e.g. {section}: {{name: ...}}."
        )
    return value


def check_trial_value(key: str, value: Any, opt: Option) -> None:
    """Check one value ``param_space.<key>`` can take against its declaration."""
    where = f"param_space.{key}"
    b = opt.bounds
    choices = opt.choices
    if choices is not None and value not in choices:
        raise unknown_name(where, value, choices)
    if opt.type in ("int", "float") and not (value is None and opt.optional):
        number(where, value, integer=opt.type == "int")
    if b.minimum is not None:
        number(where, value, integer=opt.type == "int", minimum=b.minimum, exclusive=b.exclusive)
    if b.maximum is not None and value > b.maximum:
        raise UserInputError(
            f"{where} must be at most {b.maximum:g}, but got {quote(value)}; "
            f"give a value between {b.minimum:g} and {b.maximum:g}."
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
