"""Any text typed into the Runs page's filter box is a Query or a QueryError:
random token soup, deep nesting, junk characters. A query that parses is
then evaluated against runs without raising."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.query import QueryError, parse_query
from tests.engine.test_query import RUNS

FUZZ = settings(max_examples=200, deadline=None, derandomize=True, database=None)

TOKENS = st.sampled_from([
    "(", ")", "((", "))", "and", "or", "not", "AND", "contains", "==", "!=", "<", "<=", ">", ">=", "=", "!",
    "&", "|", "-", "-1", "0", "1e999", "-1e-999", ".5", "1.", "99999999999999999999999", "nan", "true",
    "false", "null", "none", '"AdamW"', "'x'", '"unclosed', "'", "\\", "val/accuracy", "val/loss.last",
    "lr", "optimizer", "optimizer.type", "model.blocks[1].out_channels", "model.blocks[99999999999]",
    "model.blocks[0].x.y.z", "tags", "name", "starred", "seed", "duration", "params", "id", "lr.min",
    "x", "_", "a/b/c", "spec.", "[0]", "é", "\x00", "\n", " ",
])


def check(text: str) -> None:
    try:
        query = parse_query(text)
    except QueryError as e:
        assert 1 <= e.column <= len(text) + 1, (text, e.column)
        return
    query.filter(RUNS)
    query.filter([{"id": 1, "name": None, "spec": None, "summary": None}, {}])


@FUZZ
@given(st.lists(TOKENS, max_size=25).map(" ".join))
def test_token_soup_is_a_query_or_a_query_error(text):
    check(text)


@FUZZ
@given(st.lists(TOKENS, max_size=25).map("".join))
def test_token_soup_without_spaces_is_a_query_or_a_query_error(text):
    check(text)


@FUZZ
@given(st.text(max_size=40))
def test_any_text_is_a_query_or_a_query_error(text):
    check(text)


@settings(FUZZ, max_examples=50)
@given(depth=st.integers(0, 2000), wrap=st.sampled_from(["(", "not ", "(not ", "not ("]))
def test_nesting_at_any_depth_is_a_query_or_a_query_error(depth, wrap):
    closing = ")" * wrap.count("(")
    check(wrap * depth + "id > 1" + closing * depth)
