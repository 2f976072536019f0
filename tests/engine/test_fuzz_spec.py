"""A valid spec mutated at random (keys deleted, values swapped for junk of
another type, huge or negative numbers, nested junk) is either a spec or a
SpecError whose every message names where it is; and a spec that parses is
either built (data, model, optimizer, scheduler) or refused with one of the
engine's own errors — never a bare ValueError/TypeError/KeyError from a library."""
from __future__ import annotations

import copy
import json
import math
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.spec import SpecError, parse_spec
from tests.engine.test_templates import TEMPLATE_DIR

FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

TEMPLATES = [json.loads((TEMPLATE_DIR / name).read_text()) for name in ("wine_mlp.json", "digits_cnn.json")]
# A message starts with its JSON path (`model.blocks[3].kernel_size: ...`) or `(spec)`.
# An odd key is quoted: `regularization[""]`, `data.options["a b"]`.
_KEY = r'\["(?:[^"\\]|\\.)*"\]'  # ["any key"], JSON-quoted
_STEP = rf"(\.[A-Za-z_][A-Za-z0-9_/]*|\[\d+\]|{_KEY})"
PATH_RE = re.compile(rf"^(\(spec\)|([A-Za-z_][A-Za-z0-9_/]*|\[\d+\]|{_KEY}){_STEP}*):")

NUMBERS = st.sampled_from([0, -1, 1, 2, 3, -(2**31), 2**31, 2**32, 2**63, 2**64, 10**30, 1e308, -1e308,
                           0.5, -0.5, 1e-300, math.inf, -math.inf, math.nan])
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, st.integers(-(2**70), 2**70),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=6),
                    st.sampled_from(["", "auto", "relu", "x" * 300, "Linear", "SGD", "nan"]))
JUNK = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)), max_leaves=6)


def _paths(node: Any, path: tuple = ()) -> list[tuple]:
    """Every location inside the spec: dict keys and list indexes, at any depth."""
    out = [path]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, path + (i,))
    return out


def _mutate(spec: dict, data: st.DataObject) -> dict:
    spec = copy.deepcopy(spec)
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        paths = [p for p in _paths(spec) if p]
        if not paths:
            break
        path = data.draw(st.sampled_from(paths), label="path")
        parent = spec
        for part in path[:-1]:
            parent = parent[part]
        key = path[-1]
        action = data.draw(st.sampled_from(["delete", "replace", "number", "add"]), label="action")
        if action == "delete":
            del parent[key]
        elif action == "number":  # same type, odd value: more of these parse and reach the builders
            parent[key] = data.draw(NUMBERS, label="number")
        elif action == "replace":
            parent[key] = data.draw(JUNK, label="junk")
        elif isinstance(parent[key], dict):
            parent[key][data.draw(st.text(max_size=8), label="new key")] = data.draw(JUNK, label="junk")
        elif isinstance(parent[key], list):
            parent[key].append(data.draw(JUNK, label="junk"))
    return spec


def _parse(raw: Any):
    try:
        return parse_spec(raw)
    except SpecError as e:
        assert e.errors, "a SpecError with no message"
        for msg in e.errors:
            assert PATH_RE.match(msg), f"message names no path: {msg!r}"
        return None


@FUZZ
@given(template=st.sampled_from(TEMPLATES), data=st.data())
def test_a_mutated_spec_parses_or_says_where_it_is_wrong(template, data):
    _parse(_mutate(template, data))


@settings(FUZZ, max_examples=100)
@given(raw=JUNK)
def test_junk_instead_of_a_spec_is_a_spec_error(raw):
    _parse(raw)


@pytest.fixture(scope="module")
def engine_errors() -> tuple[type[Exception], ...]:
    """What the engine raises for a spec it cannot use; anything else is a leak."""
    from engine.data import DataError
    from engine.model import ModelError
    from engine.training.errors import TrainingError

    return SpecError, DataError, ModelError, TrainingError


MAX_BUILT_PARAMS = 2_000_000  # larger models are real memory; the summary already covers them


@settings(FUZZ, max_examples=80)
@given(template=st.sampled_from(TEMPLATES), data=st.data())
def test_a_spec_that_parses_is_built_or_refused_with_an_engine_error(template, data, engine_errors):
    from engine.model import summarize_spec
    from engine.training.setup import prepare

    spec = _parse(_mutate(template, data))
    if spec is None:
        return
    try:
        summary, _ = summarize_spec(spec)
        if summary.valid and summary.total_params <= MAX_BUILT_PARAMS:
            prepare(spec, "cpu", None)
    except engine_errors:
        pass
