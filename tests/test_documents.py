"""documents.load_yaml: plain data only, no duplicate keys, bounded aliases (module rules)."""

from __future__ import annotations

import time

import pytest

from tune_bs.documents import MAX_DEPTH, MAX_NODES, load_yaml
from tune_bs.errors import UserInputError


def _bomb(levels: int, width: int = 9) -> str:
    """``levels`` anchors, each a list of ``width`` aliases of the one before."""
    lines = [f"l0: &l0 [{', '.join(['1'] * width)}]"]
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


def test_plain_documents_and_shared_values_load():
    text = "a: &x {name: asha, grace_period: 2}\nb: *x\nc: {<<: *x, grace_period: 3}\n"
    assert load_yaml(text, "f") == {
        "a": {"name": "asha", "grace_period": 2},
        "b": {"name": "asha", "grace_period": 2},
        "c": {"name": "asha", "grace_period": 3},  # a merge key may be overridden
    }
    assert load_yaml("", "f") is None
    assert load_yaml(_bomb(3), "f")["l2"][0][0] == [1] * 9  # 9**3 values: fine


def test_a_key_given_twice_is_refused_naming_both_lines_and_the_field():
    with pytest.raises(UserInputError) as refused:
        load_yaml("param_space:\n  lr: 0.1\n  batch_size: 8\n  lr: 0.2\n", "space 'f.yaml'")
    message = str(refused.value)
    assert message.startswith("space 'f.yaml' line 4: 'param_space.lr' is given twice")
    assert "first at line 2" in message and "\n" not in message
    with pytest.raises(UserInputError, match="'name' is given twice"):
        load_yaml("name: a\nname: b\n", "f")
    with pytest.raises(UserInputError, match=r"'1\.0' is given twice"):
        load_yaml("{1: a, 1.0: b}", "f")  # equal once constructed


def test_an_alias_bomb_is_refused_in_one_short_line():
    text = _bomb(8)  # 9**8 = 43 million values from 414 bytes
    assert len(text) < 500
    with pytest.raises(UserInputError) as refused:
        load_yaml(text, "f")
    message = str(refused.value)
    assert f"more than the {MAX_NODES}" in message and len(message) < 300


def test_a_value_containing_itself_and_deep_nesting_are_refused():
    with pytest.raises(UserInputError, match=r"a\[0\] contains itself"):
        load_yaml("a: &a [*a]\n", "f")
    deep = "a: " + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "\n"  # 65 levels with the mapping
    with pytest.raises(UserInputError, match=f"f line 1: values are nested more than {MAX_DEPTH}"):
        load_yaml(deep, "f")
    value = load_yaml("a: " + "[" * 60 + "]" * 60, "f")["a"]  # 61 levels: allowed
    for _ in range(59):
        value = value[0]
    assert value == []
    deeper = "a: " + "[" * 5000 + "]" * 5000 + "\n"  # past Python's recursion limit
    started = time.process_time()
    with pytest.raises(UserInputError, match="nested more than 64 levels deep"):
        load_yaml(deeper, "f")
    assert time.process_time() - started < 2.0  # stops at level 65: no RecursionError unwinding
    aliased = "a: &a [[[[[[[[1]]]]]]]]\n" + "".join(
        f"{c}: &{c} [[[[[[[[*{p}]]]]]]]]\n" for p, c in zip("abcdefg", "bcdefgh", strict=True)
    )
    with pytest.raises(UserInputError, match=f"more than {MAX_DEPTH} levels deep \\(aliases"):
        load_yaml(aliased, "f")  # 8 written levels each, 72 once the aliases are written out


def test_python_tags_are_refused_and_never_run(tmp_path):
    planted = tmp_path / "ran"
    text = f"a: !!python/object/apply:os.system ['touch {planted}']\n"
    with pytest.raises(UserInputError, match=r"not valid YAML at line 1.*no !!python tags"):
        load_yaml(text, "f")
    assert not planted.exists()


def test_syntax_errors_give_the_line_and_column():
    with pytest.raises(
        UserInputError, match="not valid YAML at line 3, column 1: expected ',' or ']'"
    ):
        load_yaml("a: 1\nb: [1, 2\n", "f")
