"""The event log's payload text (edge/decode.py ``encode_payload``): msgspec where it is
installed, ``json`` otherwise, the same text from both for any value a payload can hold."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import edge.decode
from edge.decode import encode_payload

REFERENCE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


@pytest.fixture(params=["msgspec", "json"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "json":
        monkeypatch.setattr(edge.decode, "_fast_encode", None)
    elif edge.decode._fast_encode is None:
        pytest.skip("msgspec is not installed (or THUISPLUS_PURE_PYTHON is set)")
    return str(request.param)


values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children),
    max_leaves=30,
)


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=values)
def test_both_backends_write_the_text_json_writes(backend: str, value: Any) -> None:
    assert encode_payload(value) == REFERENCE(value)


@pytest.mark.parametrize(
    "value",
    [1e16, -1.5e22, 1e-05, 5e-324, float("nan"), float("inf"), 2**70, {"e": "1e5 null"}],
)
def test_floats_msgspec_writes_otherwise(backend: str, value: Any) -> None:
    assert encode_payload({"v": value}) == REFERENCE({"v": value})


def test_a_lone_surrogate_is_left_for_the_caller_to_refuse(backend: str) -> None:
    text = encode_payload({"name": "\ud800"})
    assert text == REFERENCE({"name": "\ud800"})
    with pytest.raises(UnicodeEncodeError):
        text.encode()
