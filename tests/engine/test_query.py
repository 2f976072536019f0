"""Filter expressions over runs: what matches, and what a bad expression says."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from engine.query import QueryError, field_value, looks_like_query, parse_query


@dataclass
class FakeRun:
    """The attributes of the store's Run entity that filters read."""

    id: int
    name: str
    status: str
    spec: dict[str, Any]
    summary: dict[str, Any]
    tags: list[str] = field(default_factory=list)
    starred: bool = False
    duration_s: float | None = None


def _spec(opt: str, lr: float, batch: int, channels: int, dataset: str = "digits") -> dict[str, Any]:
    return {
        "name": "x", "seed": 0, "data": {"name": dataset},
        "model": {"blocks": [{"type": "Conv2d", "out_channels": 8, "kernel_size": 3},
                             {"type": "Conv2d", "out_channels": channels, "kernel_size": 3},
                             {"type": "Flatten"}, {"type": "Linear", "out_features": 10}]},
        "optimizer": {"type": opt, "lr": lr},
        "training": {"epochs": 10, "batch_size": batch},
    }


def _metrics(best: float, last: float) -> dict[str, Any]:
    return {"params": 5000, "metrics": {"val/accuracy": {"best": best, "last": last, "min": 0.1, "max": best},
                                        "val/loss": {"best": 1 - best, "last": 1 - last}}}


RUNS = [
    FakeRun(1, "digits-cnn", "completed", _spec("AdamW", 1e-3, 64, 32), _metrics(0.98, 0.97),
            ["demo", "baseline"], starred=True, duration_s=41.0),
    FakeRun(2, "digits-sgd", "stopped", _spec("SGD", 0.1, 128, 16), _metrics(0.91, 0.85), ["demo"]),
    FakeRun(3, "iris-mlp", "failed", _spec("Adam", 3e-3, 32, 16, "iris"), {"params": 300, "metrics": {}}),
]


def names(expr: str) -> list[str]:
    return [r.name for r in parse_query(expr).filter(RUNS)]


@pytest.mark.parametrize("expr, expected", [
    ('val/accuracy > 0.9 and optimizer.type == "AdamW"', ["digits-cnn"]),
    ("val/accuracy > 0.9", ["digits-cnn", "digits-sgd"]),
    ("val/accuracy.last < 0.9", ["digits-sgd"]),
    ("val/accuracy.max >= 0.98", ["digits-cnn"]),
    ("training.batch_size <= 64", ["digits-cnn", "iris-mlp"]),
    ("model.blocks[1].out_channels == 16", ["digits-sgd", "iris-mlp"]),
    ("optimizer.lr >= 1e-2", ["digits-sgd"]),
    ("optimizer.lr > -1", ["digits-cnn", "digits-sgd", "iris-mlp"]),
    ('status != "failed"', ["digits-cnn", "digits-sgd"]),
    ('not (status == "failed" or status == "stopped")', ["digits-cnn"]),
    ('tags contains "baseline"', ["digits-cnn"]),
    ('name contains "DIGITS"', ["digits-cnn", "digits-sgd"]),
    ('optimizer.type == "adamw"', ["digits-cnn"]),  # strings compare case-insensitively
    ('dataset == "iris"', ["iris-mlp"]),
    ("params > 1000", ["digits-cnn", "digits-sgd"]),
    ("starred", ["digits-cnn"]),
    ("not starred and id > 1", ["digits-sgd", "iris-mlp"]),
    ("duration > 10", ["digits-cnn"]),
    ('model.blocks contains "Linear"', ["digits-cnn", "digits-sgd", "iris-mlp"]),
    ("status = 'completed'", ["digits-cnn"]),  # a single '=' and single quotes are forgiven
    ("", ["digits-cnn", "digits-sgd", "iris-mlp"]),
    ("lr > 0.005 or optimizer == 'adam'", ["digits-sgd", "iris-mlp"]),  # short names for settings
    ("batch_size >= 64 and epochs == 10", ["digits-cnn", "digits-sgd"]),
    ("id == 3 or id == 1 and starred", ["digits-cnn", "iris-mlp"]),  # 'and' binds tighter than 'or'
    ("id == 3 or id == 2 and starred", ["iris-mlp"]),
])
def test_expressions_select_the_expected_runs(expr, expected):
    assert names(expr) == expected


def test_missing_fields_are_null_and_never_ordered():
    # iris-mlp logged no val/accuracy: it neither passes > nor < ...
    assert "iris-mlp" not in names("val/accuracy > 0") + names("val/accuracy < 2")
    # ... but it is found by == null, and Adam runs have no momentum at all.
    assert names("val/accuracy == null") == ["iris-mlp"]
    assert names("optimizer.momentum > 0") == []


def test_runs_may_be_plain_dicts():
    run = {"name": "d", "status": "completed", "spec": _spec("SGD", 0.5, 8, 4), "summary": _metrics(0.5, 0.4)}
    assert parse_query('optimizer.type == "SGD" and val/loss.last > 0.55').matches(run)


@pytest.mark.parametrize("expr, message", [
    ('val/accuracy > 0.9 and optimizer.type ==', "expected a value after '==' at column 41"),
    ("val/accuracy > ", "expected a value after '>' at column 16"),
    ('status == "completed" and', "expected a condition after 'and' at column 26"),
    ("(val/accuracy > 0.9", "expected ')' to close the '(' at column 1 at column 20"),
    ("val/accuracy > 0.9)", "unmatched ')' at column 19"),
    ('status == "done', 'unclosed string at column 11; add a closing "'),
    ("val/accuracy > 0.9 && starred", "unexpected '&' at column 20; write 'and'"),
    ("optimizer.tpye == 'SGD'", "unknown field 'optimizer.tpye' at column 1; did you mean optimizer.type?"),
    ("accuracy > 0.9", "unknown field 'accuracy' at column 1"),
    ("val/accuracy.median > 0.9", "unknown metric statistic '.median' at column 13"),
    ("status 'completed'", "expected an operator between 'status' and ''completed'' at column 8"),
    ("0.9", "expected a comparison (==, >, contains, ...) after '0.9' at column 4"),
    ("status == 'a' status == 'b'", "expected 'and' or 'or' before 'status' at column 15"),
])
def test_bad_expressions_name_the_column_and_what_was_expected(expr, message):
    with pytest.raises(QueryError) as err:
        parse_query(expr)
    assert str(err.value).startswith(message)
    assert err.value.column >= 1


def test_nothing_is_ever_evaluated_as_python():
    for hostile in ("__import__('os').system('echo hi')", "open('/etc/passwd')", "1 + 1 == 2"):
        with pytest.raises(QueryError):
            parse_query(hostile)


def test_free_text_is_told_apart_from_expressions():
    assert not looks_like_query("digits cnn")
    assert looks_like_query("lr > 0.01")
    assert looks_like_query('tags contains "demo"')
    assert field_value(RUNS[0], "val/accuracy.last") == 0.97
    assert field_value(RUNS[0], "optimizer.type") == "AdamW"


@pytest.mark.parametrize("expr", ["(" * 500 + "id > 1" + ")" * 500, "not " * 500 + "starred",
                                  "(not " * 300 + "starred" + ")" * 300])
def test_deep_nesting_is_a_query_error_not_a_recursion_error(expr):
    with pytest.raises(QueryError, match=r"expression nested too deeply \(more than 64 levels\)"):
        parse_query(expr)


def test_nesting_up_to_the_limit_parses_and_long_chains_evaluate():
    assert names("(" * 64 + "id == 2" + ")" * 64) == ["digits-sgd"]
    assert names(" or ".join(["id == 3"] * 5000)) == ["iris-mlp"]
    assert names(" and ".join(["id < 3"] * 5000)) == ["digits-cnn", "digits-sgd"]
