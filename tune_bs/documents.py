"""YAML documents a user hands tune-bs (search spaces, exported ``encoder.yaml``), read safely.

:func:`load_yaml` is PyYAML's safe loader with four rules added; each failure is one
:class:`~tune_bs.errors.UserInputError` line naming the file, the place and the fix:

1. **Plain data only.** Tags that build Python objects (``!!python/object``, ...) are refused,
   never executed (PyYAML's ``SafeLoader``).
2. **No duplicate keys.** A key given twice in one mapping is refused with both lines: YAML
   keeps the last one silently, which drops a setting the user wrote. (A merge key ``<<`` may
   still be overridden by an explicit key: that is what merging means.)
3. **Bounded aliases.** Anchors and aliases (``&a`` / ``*a``) may share a value, but the
   document, with every alias written out, may hold at most :data:`MAX_NODES` values and nest at
   most :data:`MAX_DEPTH` levels, and an alias may not contain itself. A few hundred bytes of
   nested aliases otherwise stand for billions of values, and whatever walks or prints them
   (a check, an error message, a copy of the space) runs out of time or memory.
4. **Syntax errors** give the line and column.

The check walks the parsed node graph once per distinct node (aliases are shared nodes), so it
costs what the text costs, not what the expansion would.
"""

from __future__ import annotations

from typing import Any

import yaml

from tune_bs.errors import UserInputError, quote

#: The most values (scalars, lists and mappings, aliases written out) a document may hold.
MAX_NODES = 100_000
#: The deepest nesting a document may have (aliases written out).
MAX_DEPTH = 64
_MERGE = "tag:yaml.org,2002:merge"


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing written nesting deeper than :data:`MAX_DEPTH` while it
    composes (its composer recurses once per level: a deep file would otherwise end in a slow
    ``RecursionError``)."""

    def __init__(self, stream: str, source: str) -> None:
        super().__init__(stream)
        self.source, self.depth = source, 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                line = self.peek_event().start_mark.line + 1
                raise UserInputError(
                    f"{self.source} line {line}: values are nested more than {MAX_DEPTH} levels "
                    "deep; flatten the file."
                )
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


class _Walk:
    """One pass over a composed document: expanded size and depth per node, duplicate keys."""

    def __init__(self, loader: yaml.SafeLoader, source: str) -> None:
        self.loader, self.source = loader, source
        self.sizes: dict[int, tuple[int, int]] = {}  # id(node) -> (values, depth)
        self.open: set[int] = set()  # nodes being walked: an alias back into one is a cycle

    def where(self, node: yaml.Node) -> str:
        return f"{self.source} line {node.start_mark.line + 1}"

    def visit(self, node: yaml.Node, path: str) -> tuple[int, int]:
        key = id(node)
        if key in self.sizes:
            return self.sizes[key]
        if key in self.open:
            raise UserInputError(
                f"{self.where(node)}: the value at {_short(path)} contains itself "
                "through an alias (*name inside its own &name); write the value out instead."
            )
        self.open.add(key)
        values, depth = 1, 0
        if isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                n, d = self.visit(item, f"{path}[{i}]")
                values, depth = values + n, max(depth, d)
        elif isinstance(node, yaml.MappingNode):
            self.duplicates(node, path)
            for key_node, value_node in node.value:
                name = key_node.value if isinstance(key_node, yaml.ScalarNode) else "?"
                for child in (key_node, value_node):
                    n, d = self.visit(child, f"{path}.{name}" if path else str(name))
                    values, depth = values + n, max(depth, d)
        self.open.discard(key)
        result = (values, depth + 1)
        if values > MAX_NODES or depth + 1 > MAX_DEPTH:
            what = (
                f"holds {values} values once its aliases (*name) are written out, more than the "
                f"{MAX_NODES} a tune-bs file may hold"
                if values > MAX_NODES
                else f"nests values more than {MAX_DEPTH} levels deep (aliases written out)"
            )
            raise UserInputError(
                f"{self.where(node)}: the value at {_short(path)} {what}; write the values out "
                "or nest fewer lists, mappings and aliases."
            )
        self.sizes[key] = result
        return result

    def duplicates(self, node: yaml.MappingNode, path: str) -> None:
        """Refuse a scalar key given twice in ``node`` (module rule 2)."""
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE:
                continue
            key = self.loader.construct_object(key_node, deep=False)
            try:
                first = seen.setdefault(key, key_node)
            except TypeError:  # an unhashable key: the constructor refuses it with its own line
                continue
            if first is not key_node:
                field = f"{path}.{key}" if path else str(key)
                raise UserInputError(
                    f"{self.where(key_node)}: {quote(field)} is given twice (first at line "
                    f"{first.start_mark.line + 1}); YAML would silently keep the last one, so "
                    "delete or merge one of them."
                )


def _short(path: str, limit: int = 80) -> str:
    """A value's place in the document for a message (``param_space.lr``), cut to ``limit``."""
    if not path:
        return "the top level"
    return path if len(path) <= limit else path[: limit - 3] + "..."


def load_yaml(text: str, source: str) -> Any:
    """The document in ``text`` as Python data (module rules); ``source`` names it in errors
    (e.g. ``"search space 'x.yaml'"``). ``None`` for an empty document."""
    loader = _Loader(text, source)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _Walk(loader, source).visit(node, "")
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or (str(exc).splitlines() or ["?"])[0]
        raise UserInputError(
            f"{source} is not valid YAML{where}: {problem}; fix the syntax there "
            "(tune-bs reads plain YAML: no !!python tags)."
        ) from None
    except RecursionError:  # a parser's own recursion (the composer stops at MAX_DEPTH)
        raise UserInputError(
            f"{source} nests its values more deeply than Python can read (more than "
            f"{MAX_DEPTH} levels are refused anyway); flatten the file."
        ) from None
    finally:
        loader.dispose()
