"""Guarded decoding: every JSON text from outside the hub is read inside limits.

Every input surface (sensor messages and commands over MQTT, recordings, the event log
read back after a hard stop, the hub's own health topic read by the doctor, the city's
daily stats) decodes through :func:`decode_json` or :func:`decode_payload`. The limits
are checked *before* the decoder runs, by a cheap scan of the text: a JSON value nested
a thousand levels deep (which makes Python's own decoder, and anything that walks the
value afterwards, overflow the stack), a megabyte of payload or a hundred thousand keys
is refused with a reason that starts ``limits:``, and never reaches a decoder.

The scan costs three ``count`` calls for the usual sensor message (a few hundred bytes);
only a larger or bracket-heavy text is scanned in full (strings taken out, then the
brackets counted), in linear time.

The decoder is msgspec's when it is installed (several times faster than ``json``), with
the standard library's ``json`` as the pure-Python fallback; both give the same values
(where msgspec refuses a text that ``json`` takes, such as ``NaN`` or a ``"\\ud800"``
escape, ``json`` decides). ``THUISPLUS_PURE_PYTHON=1`` uses the fallback alone.

>>> decode_json(b'{"occupancy": true, "battery": 87}')
{'occupancy': True, 'battery': 87}
>>> decode_json("[" * 40 + "]" * 40)
Traceback (most recent call last):
...
edge.decode.LimitError: limits: nested 40 levels deep, over the 32 allowed
>>> decode_payload(b"ON")   # MQTT: a payload that is not JSON is its text
'ON'
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, replace
from typing import Any

_PURE = os.environ.get("THUISPLUS_PURE_PYTHON", "") not in ("", "0")

_fast_decode: Any = None
_fast_encode: Any = None
_FastError: type[Exception] = ValueError
_FastEncodeError: tuple[type[Exception], ...] = (ValueError,)
BACKEND = "json"  # the pure-Python fallback
if not _PURE:
    try:
        import msgspec
    except ImportError:  # pragma: no cover  (a dependency; the fallback is tested anyway)
        pass
    else:
        _fast_decode = msgspec.json.decode
        _fast_encode = msgspec.json.encode
        _FastError = msgspec.DecodeError
        _FastEncodeError = (msgspec.EncodeError, UnicodeError, TypeError, OverflowError)
        BACKEND = "msgspec"


@dataclass(frozen=True, slots=True)
class Limits:
    """How large a JSON text may be before the hub reads it.

    The defaults leave a wide margin over what Zigbee2MQTT sends for one device (a few
    hundred bytes, three levels deep, a few dozen keys).
    """

    max_bytes: int = 65_536
    """The whole text, in bytes as received (characters for a text already decoded)."""
    max_depth: int = 32
    """Objects and arrays inside one another."""
    max_keys: int = 1_000
    """Object keys, at every level together."""
    max_items: int = 10_000
    """Values in objects and arrays, at every level together."""
    max_string: int = 8_192
    """One string, in bytes as sent (escapes included)."""

    def around(self, extra_bytes: int = 4_096) -> Limits:
        """The limits for a JSON object that carries a value within these limits (a
        recording line: ``ts``, ``topic`` and the payload; a command's envelope)."""
        return replace(
            self,
            max_bytes=self.max_bytes + extra_bytes,
            max_depth=self.max_depth + 1,
            max_keys=self.max_keys + 8,
            max_items=self.max_items + 8,
        )


DEFAULT_LIMITS = Limits()

BRIDGE_LIMITS = Limits(
    max_bytes=16 * 1024 * 1024,
    max_depth=32,
    max_keys=4_000_000,
    max_items=8_000_000,
    max_string=65_536,
)
"""Zigbee2MQTT's ``bridge/devices`` and ``bridge/groups``: every device of the flat with
its full definition (a few kilobytes each: some megabytes for 300 apartments' devices)."""


class LimitError(ValueError):
    """A text over one of the limits; ``reason`` (also ``str()``) starts ``limits:``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotJson(ValueError):
    """A text that is not JSON; ``reason`` says where and why (no ``limits:`` prefix)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# A JSON string: a quote, then anything but a quote or a backslash, or an escape. Written
# "unrolled" so that the regex engine never backtracks (linear in the text's length).
_STRING_B = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_STRING_S = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKETS = frozenset(b"[]{}")
_KEEP_B = bytes(c for c in range(256) if c not in _BRACKETS)


_BRACKET_S = re.compile(r"[\[\]{}]")


def _count(text: bytes | str, what: str) -> int:
    if isinstance(text, bytes):
        return text.count(what.encode())
    return text.count(what)


def check(text: bytes | str, limits: Limits = DEFAULT_LIMITS) -> None:
    """Raise :class:`LimitError` when ``text`` is over a limit (whether or not it is JSON).

    >>> check(b'{"a": [1, 2, {"b": "c"}]}')
    >>> check(b'{"k": "' + b"x" * 9000 + b'"}')
    Traceback (most recent call last):
    ...
    edge.decode.LimitError: limits: a string of 9,002 bytes, over the 8,192 allowed
    """
    size = len(text)
    if size > limits.max_bytes:
        raise LimitError(f"limits: {size:,} bytes, over the {limits.max_bytes:,} allowed")
    if isinstance(text, bytes):
        quiet = (
            text.count(b"{") + text.count(b"[") <= limits.max_depth
            and text.count(b":") <= limits.max_keys
            and text.count(b",") < limits.max_items
        )
    else:
        quiet = (
            text.count("{") + text.count("[") <= limits.max_depth
            and text.count(":") <= limits.max_keys
            and text.count(",") < limits.max_items
        )
    if quiet and size <= limits.max_string:
        return  # (the usual sensor message: nothing in it can be over a limit)
    _scan(text, limits)


def _scan(text: bytes | str, limits: Limits) -> None:
    """The full check: the strings taken out, what is left counted."""
    if isinstance(text, bytes):
        strings = _STRING_B.findall(text)
        bare: bytes | str = _STRING_B.sub(b'""', text)
    else:
        strings = _STRING_S.findall(text)
        bare = _STRING_S.sub('""', text)
    longest = max(map(len, strings), default=0)
    if longest > limits.max_string:
        raise LimitError(
            f"limits: a string of {longest:,} bytes, over the {limits.max_string:,} allowed"
        )
    keys = _count(bare, ":")
    if keys > limits.max_keys:
        raise LimitError(f"limits: {keys:,} keys, over the {limits.max_keys:,} allowed")
    items = _count(bare, ",") + 1
    if items > limits.max_items:
        raise LimitError(f"limits: {items:,} values, over the {limits.max_items:,} allowed")
    brackets: bytes | str = (
        bare.translate(None, _KEEP_B)
        if isinstance(bare, bytes)
        else "".join(_BRACKET_S.findall(bare))
    )
    depth = deepest = 0
    for ch in brackets:
        if ch in (91, 123, "[", "{"):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limits.max_depth:
                    # (counted on: how deep it goes is worth saying, and cheap)
                    deepest = _deepest(brackets)
                    raise LimitError(
                        f"limits: nested {deepest:,} levels deep, "
                        f"over the {limits.max_depth:,} allowed"
                    )
        else:
            depth -= 1


def _deepest(brackets: bytes | str) -> int:
    depth = deepest = 0
    for ch in brackets:
        if ch in (91, 123, "[", "{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def decode_json(text: bytes | str, limits: Limits = DEFAULT_LIMITS) -> Any:
    """The JSON value in ``text``; :class:`LimitError` over a limit, :class:`NotJson`
    (with the position and the reason) when it is not JSON.

    >>> decode_json('{"a": 1,}')
    Traceback (most recent call last):
    ...
    edge.decode.NotJson: column 9: Expecting property name enclosed in double quotes
    """
    check(text, limits)
    return _decode(text)


def _decode(text: bytes | str) -> Any:
    if _fast_decode is not None:
        try:
            return _fast_decode(text)
        except (_FastError, UnicodeError):
            pass  # (the standard decoder decides, and says why)
    try:
        return json.loads(text)
    except UnicodeDecodeError as err:
        raise NotJson(f"not UTF-8 text (byte {err.start})") from err
    except json.JSONDecodeError as err:
        raise NotJson(f"column {err.colno}: {err.msg}") from err
    except ValueError as err:  # (e.g. an integer of over 4,300 digits)
        raise NotJson(str(err)) from err


def decode_payload(raw: bytes, limits: Limits = DEFAULT_LIMITS) -> Any:
    """An MQTT payload as the hub reads it: the JSON value, or the text itself when it is
    not JSON (``ON``, ``offline``); :class:`LimitError` over a limit.

    >>> decode_payload(b'{"contact": false}'), decode_payload(b"offline")
    ({'contact': False}, 'offline')
    """
    check(raw, limits)
    try:
        return _decode(raw)
    except NotJson:
        return raw.decode("utf-8", errors="replace")


_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_FLOAT_MAY_DIFFER = re.compile(rb"[0-9]e|0\.0000|null")
"""Where msgspec's text of a value may differ from ``json``'s: floats that Python writes
with an exponent (msgspec writes ``1e16`` and ``0.00001`` for ``1e+16`` and ``1e-05``),
and NaN or infinity (msgspec writes ``null``). Any text with these is made by ``json``."""


def encode_payload(value: Any) -> str:
    """A decoded payload as the event log keeps it: compact JSON, Unicode as is; the same
    text with either backend (msgspec is about ten times faster; where its text could
    differ from the standard library's, the standard library writes it).

    >>> encode_payload({"occupancy": True, "power": 12.5, "name": "é"})
    '{"occupancy":true,"power":12.5,"name":"é"}'
    >>> encode_payload({"energy": 1e16, "x": 1e-05, "nan": float("nan")})
    '{"energy":1e+16,"x":1e-05,"nan":NaN}'
    """
    if _fast_encode is not None:
        try:
            raw: bytes = _fast_encode(value)
        except _FastEncodeError:
            pass  # (a lone surrogate, a huge integer: json writes it, the caller decides)
        else:
            if _FLOAT_MAY_DIFFER.search(raw) is None:
                return raw.decode()
    return _ENCODE(value)


def excerpt(raw: bytes | str, keep: int = 4_096) -> str:
    """What a dead letter keeps of a text over the limits: its start, and its size.

    >>> excerpt(b"x" * 10_000, keep=8)
    'xxxxxxxx... (10,000 bytes in all; the rest not kept)'
    """
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    if len(raw) <= keep:
        return text
    return f"{text[:keep]}... ({len(raw):,} bytes in all; the rest not kept)"
