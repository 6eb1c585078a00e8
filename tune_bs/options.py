"""How a component declares its options: once, as the fields of a frozen dataclass.

Every strategy, scheduler, encoder and search algorithm names an options dataclass in its
registry entry; each field is one option, declared with :func:`option`, which records in the
field's metadata what :mod:`tune_bs.search.checks` validates generically:

- the type, read from the annotation (``int``, ``float``, ``bool``, ``str``; ``X | None`` for an
  option that may stay unset; ``sizes`` for a list of batch sizes);
- ``minimum`` (inclusive, or excluded with ``exclusive=True``) and ``maximum`` (inclusive);
- ``choices``: the valid names (a tuple, a registry mapping, or a function returning either —
  a function defers the look-up, so a registry may name options of its own entries);
- ``doc``: one line, with the unit, stating what the option means — and, when it has no bounds,
  that any value of its type is accepted.

Rules: in ``param_space``, a numeric option (``int``, ``float``) must be a finite number (an
integer for ``int``; ``None`` where the option may stay unset) whatever its bounds, so a typo
or ``.nan`` is refused before any trial starts rather than failing inside every trial; other
options without ``minimum``, ``maximum`` and ``choices`` are not checked beyond their key; in a
``scheduler`` or ``search`` section every value is checked against its type too. An option
without a default is filled in by the search space (``batch_sizes`` of a scheduler);
``placeholder`` is the value its class is built with when the section is checked.
``unset=True`` marks a default that means "not given" (``normalise: ""``) and is not itself a
valid value.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import MISSING, dataclass, fields
from typing import Any

from tune_bs.documents import load_yaml
from tune_bs.errors import UserInputError, quote, unknown_name

#: Metadata key under which :func:`option` stores the :class:`Bounds` of a field.
OPTION = "tune_bs.option"
#: The option types a declaration may use.
TYPES = ("int", "float", "bool", "str", "sizes")

Choices = Iterable[Any] | Callable[[], Iterable[Any]]


@dataclass(frozen=True)
class Bounds:
    """What one option accepts (module rules)."""

    doc: str
    minimum: float | None = None
    exclusive: bool = False
    maximum: float | None = None
    choices: Choices | None = None
    kind: str | None = None  # overrides the type read from the annotation (``sizes``)
    placeholder: Any = None
    unset: bool = False


@dataclass(frozen=True)
class Option:
    """One declared option: its name, type, default and :class:`Bounds`."""

    name: str
    type: str
    optional: bool
    default: Any
    bounds: Bounds

    @property
    def required(self) -> bool:
        """True when the option has no default (the search space fills it in)."""
        return self.default is MISSING

    @property
    def choices(self) -> tuple[Any, ...] | None:
        """The valid names, looked up now; ``None`` for an option that is not a name."""
        found = self.bounds.choices
        if found is None:
            return None
        return tuple(found() if callable(found) else found)


def option(
    default: Any = MISSING,
    *,
    doc: str,
    minimum: float | None = None,
    exclusive: bool = False,
    maximum: float | None = None,
    choices: Choices | None = None,
    kind: str | None = None,
    placeholder: Any = None,
    unset: bool = False,
) -> Any:
    """A dataclass field declaring one option (module rules)."""
    bounds = Bounds(doc, minimum, exclusive, maximum, choices, kind, placeholder, unset)
    return dataclasses.field(default=default, metadata={OPTION: bounds})


def _type_of(annotation: Any) -> tuple[str, bool]:
    """``("int", True)`` for ``int | None`` (written or evaluated); Literal annotations are names
    (``str``)."""
    text = annotation.__name__ if isinstance(annotation, type) else str(annotation)
    parts = [p.strip() for p in text.split("|")]
    optional = "None" in parts
    base = next((p for p in parts if p != "None"), "")
    if base.removeprefix("typing.").startswith("Literal["):
        return "str", optional
    return base, optional


def declared(f: dataclasses.Field) -> Option:
    """The option a dataclass field declares (a ``TypeError`` if it declares none)."""
    bounds = f.metadata.get(OPTION)
    if bounds is None:
        raise TypeError(f"field {f.name} is not declared with tune_bs.options.option")
    kind, optional = _type_of(f.type)
    default = f.default if f.default_factory is MISSING else f.default_factory()
    return Option(f.name, bounds.kind or kind, optional, default, bounds)


def options_of(cls: type) -> tuple[Option, ...]:
    """The options an options dataclass declares, in field order."""
    return tuple(declared(f) for f in fields(cls))


def option_names(cls: type) -> tuple[str, ...]:
    """The names of the options ``cls`` declares, in field order."""
    return tuple(f.name for f in fields(cls))


def union(items: Iterable[dataclasses.Field]) -> list[dataclasses.Field]:
    """``items`` with each name once (its first declaration), in order."""
    seen: dict[str, dataclasses.Field] = {}
    for f in items:
        seen.setdefault(f.name, f)
    return list(seen.values())


def read_options(cls: type, values: Any, extra: Mapping[str, Any] | None = None) -> Any:
    """An instance of ``cls`` from the attributes of ``values`` (e.g. a ``TrainSettings``), then
    ``extra``; options found in neither keep their defaults."""
    extra = extra or {}
    found = {}
    for f in fields(cls):
        if hasattr(values, f.name):
            found[f.name] = getattr(values, f.name)
        elif f.name in extra:
            found[f.name] = extra[f.name]
    return cls(**found)


@dataclass(frozen=True)
class NoOptions:
    """The options of a component that has none."""


# --- checking a value against its declaration (one-line errors: field, value, fix) --------
def read_assignments(texts: Iterable[str], flag: str, example: str) -> dict[str, Any]:
    """``NAME=VALUE`` command-line assignments (e.g. a benchmark's ``--set``) as a dict, each
    ``VALUE`` read as YAML (``0.2``, ``3``, ``false``), as in a search-space file's section; the
    caller checks the names and values. Raises :class:`UserInputError` (one line) on a malformed
    assignment, with ``example`` as the fix."""
    out: dict[str, Any] = {}
    for text in texts:
        name, sep, raw = text.partition("=")
        name = name.strip()
        if not sep or not name or not raw.strip():
            raise UserInputError(
                f"{flag} must be NAME=VALUE, but got {flag} {quote(text)}; "
                f"write e.g. {flag} {example}."
            )
        out[name] = load_yaml(raw, f"{flag} {name}")
    return out


def number(
    where: str,
    value: Any,
    *,
    integer: bool = False,
    minimum: float | None = None,
    exclusive: bool = False,
) -> float:
    """``value`` if it is a finite number (an integer when ``integer``) at least ``minimum``
    (greater, when ``exclusive``). NaN and ±inf (YAML's ``.nan``, ``.inf``) are refused."""
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    kind = "an integer" if integer else "a number"
    if ok and not math.isfinite(float(value)):
        raise UserInputError(
            f"{where} must be a finite number, but got {where}={quote(value)}; give {kind} "
            "(NaN and infinity are not allowed)."
        )
    if ok and integer and float(value) != int(value):
        ok = False
    if not ok:
        raise UserInputError(
            f"{where} must be {kind}, but got {where}={quote(value)}; fix the value."
        )
    if minimum is not None and (value <= minimum if exclusive else value < minimum):
        bound = f"greater than {minimum}" if exclusive else f"at least {minimum}"
        raise UserInputError(
            f"{where} must be {bound}, but got {where}={quote(value)}; fix the value."
        )
    return value


def _check_sizes(where: str, value: Any) -> None:
    if not isinstance(value, list) or len(value) < 2:
        raise UserInputError(
            f"{where} must list at least two batch sizes, but got {where}={quote(value)}; "
            "write e.g. batch_sizes: [8, 16, 32]."
        )
    for size in value:
        number(where, size, integer=True, minimum=2)
    if len(set(value)) != len(value):
        raise UserInputError(
            f"{where} lists a batch size twice, in {quote(value)}; remove the duplicate."
        )
    if list(value) != sorted(value):
        raise UserInputError(
            f"{where} must list the candidate batch sizes in increasing order (a set, not a "
            f"schedule), but got {where}={quote(value)}; write {sorted(value)}."
        )


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
                f"{where} must be true or false, but got {where}={quote(value)}; "
                "write true or false."
            )
    elif opt.type == "sizes":
        _check_sizes(where, value)
    elif opt.type == "int":
        number(where, value, integer=True)
        if b.minimum is not None and value < b.minimum:
            raise UserInputError(
                f"{where} must be at least {b.minimum}, but got {where}={quote(value)}; "
                f"raise it to {b.minimum} or more."
            )
    else:
        number(where, value, minimum=b.minimum)
        if b.maximum is not None and value > b.maximum:
            raise UserInputError(
                f"{where} must be between {b.minimum} and {b.maximum}, but got "
                f"{where}={quote(value)}; lower it."
            )
