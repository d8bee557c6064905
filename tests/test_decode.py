"""Guarded decoding (edge/decode.py), on both decoders: msgspec and the pure-Python
``json`` fallback give the same values, and no text, however made, gets past the limits
into a decoder that recurses."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import edge.decode
from edge.decode import (
    LimitError,
    Limits,
    NotJson,
    check,
    decode_json,
    decode_payload,
)


@pytest.fixture(params=["msgspec", "json"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "json":
        monkeypatch.setattr(edge.decode, "_fast_decode", None)
    elif edge.decode._fast_decode is None:
        pytest.skip("msgspec is not installed (or THUISPLUS_PURE_PYTHON is set)")
    return str(request.param)


values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children),
    max_leaves=30,
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=values)
def test_both_decoders_read_what_json_reads(backend: str, value: Any) -> None:
    text = json.dumps(value)
    try:
        check(text)
    except LimitError:
        return  # (a generated value can be over a limit: refused alike by both)
    assert decode_json(text) == json.loads(text)
    assert decode_json(text.encode()) == json.loads(text)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(alphabet='[]{}":,1a \\', max_size=3000))
def test_any_bracket_soup_is_refused_or_decoded_never_a_recursion_error(
    backend: str, text: str
) -> None:
    try:
        decode_json(text)
    except (LimitError, NotJson):
        pass


@pytest.mark.parametrize("levels", [33, 985, 100_000])
def test_deep_nesting_is_refused_with_how_deep(backend: str, levels: int) -> None:
    for text in ("[" * levels + "]" * levels, '{"a":' * levels + "1" + "}" * levels):
        limits = Limits(max_bytes=10_000_000, max_keys=10_000_000, max_items=10_000_000)
        with pytest.raises(LimitError, match=f"nested {levels:,} levels deep, over the 32"):
            decode_json(text, limits)
        with pytest.raises(LimitError, match="nested"):
            decode_json(text.encode(), limits)


def test_each_limit_says_which() -> None:
    cases = {
        b"[" + b"1," * 40_000 + b"1]": "limits: 80,003 bytes, over the 65,536 allowed",
        json.dumps({f"k{i}": 0 for i in range(1_001)}).encode(): "1,001 keys, over the 1,000",
        json.dumps(list(range(10_001))).encode(): "10,001 values, over the 10,000",
        json.dumps({"a": "x" * 8_200}).encode(): "a string of 8,202 bytes, over the 8,192",
    }
    for text, why in cases.items():
        with pytest.raises(LimitError, match=why):
            check(text)
    check(json.dumps(list(range(10_000))).encode())  # (at the limit: allowed)


def test_strings_hide_brackets_and_commas() -> None:
    """Brackets, colons and commas inside strings are text, not structure."""
    text = json.dumps({"note": "[[[[{{{{:,:,:," * 300})
    assert len(text) < 8_192
    assert decode_json(text)["note"].startswith("[[[[")
    escaped = json.dumps({"q": 'a "quoted" [ \\ ] {' * 100})
    assert decode_json(escaped) == json.loads(escaped)


def test_what_msgspec_refuses_json_decides(backend: str) -> None:
    assert math.isnan(decode_json("NaN"))
    assert decode_json('"\\ud800"') == "\ud800"  # (the normaliser refuses it, with a reason)
    with pytest.raises(NotJson, match="column 1"):
        decode_json("nope")
    with pytest.raises(NotJson, match="not UTF-8"):
        decode_json(b'"\xff"')
    assert decode_payload(b"ON") == "ON"
    assert decode_payload(b"\xff\xfe") == "\ufffd\ufffd"
