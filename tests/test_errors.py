"""errors.quote: every value a message echoes is one short line, whatever the value is."""

from __future__ import annotations

import time

import pytest

from tune_bs.errors import QUOTE_LIMIT, did_you_mean, quote, unknown_name


@pytest.mark.parametrize("value", ["fast", [8, 16], 0.1, {"a": 1}, None, True, -3, "it's"])
def test_small_values_read_as_repr(value):
    assert quote(value) == repr(value)


def test_a_long_string_is_cut_and_says_how_long_it_was():
    text = quote("a" * 1_000_000)
    assert len(text) <= QUOTE_LIMIT and text.endswith("(1000000 characters)")
    assert text.startswith("'aaaa")


def test_an_alias_bomb_is_quoted_short_and_fast():
    value: list = [1] * 9
    for _ in range(9):  # 9**10 leaves once written out: repr() would need gigabytes
        value = [value] * 9
    started = time.process_time()
    text = quote(value)
    assert time.process_time() - started < 1.0  # a bound on work done, not a timing claim
    assert len(text) <= QUOTE_LIMIT and text.endswith("...")


def test_quotes_are_one_line_and_survive_a_broken_repr():
    class Broken:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    assert quote("a\nb") == "'a\\nb'"
    assert quote(Broken()).startswith("<Broken")
    assert "\n" not in quote(["x\ny"] * 100)
    assert len(quote(list(range(10_000)))) <= QUOTE_LIMIT
    assert len(quote(10**5000)) <= QUOTE_LIMIT  # int->str is limited in Python: still a line


def test_unknown_name_quotes_the_value_and_suggests_on_its_head():
    message = str(unknown_name("metric", "x" * 10_000, ["val_loss"]))
    assert len(message) < 400 and "(10000 characters)" in message
    assert did_you_mean("val_los", ["val_loss"]) == " (did you mean 'val_loss'?)"
    assert did_you_mean([[1] * 9] * 9, ["val_loss"]) == ""
