"""Commands from the team, over MQTT: acknowledge, discuss, assign, close a signal.

Each command is a JSON object naming the signal (its id or a unique prefix) and who acts
(a role such as ``on_call``, never a person's name). Anything else is refused with a
reason; nothing from the payload reaches SQL or a file path unchecked.

>>> from edge.store import Store, StoreConfig
>>> from edge.register import Register
>>> run_command(Register(Store(None, StoreConfig())), "ack", b'{"signal": "x"}')
Traceback (most recent call last):
...
edge.commands.CommandError: 'by' is missing: say which role acts, e.g. "on_call"
"""

from __future__ import annotations

import logging
from typing import Any

from edge.decode import LimitError, Limits, NotJson, decode_json
from edge.register import Entry, Register, RegisterError
from edge.store import writable

logger = logging.getLogger(__name__)

COMMANDS = ("ack", "discuss", "assign", "close")
COMMAND_LIMITS = Limits(max_bytes=16_384, max_depth=4, max_keys=32, max_items=64, max_string=4_096)
"""A command is one flat object of a few short texts."""


class CommandError(Exception):
    """A command that cannot be carried out, with the reason."""


def _text(body: dict[str, Any], key: str, hint: str) -> str:
    value = body.get(key)
    if value is None:
        raise CommandError(f"'{key}' is missing: {hint}")
    if not isinstance(value, str) or not value.strip() or len(value) > 2000:
        raise CommandError(f"'{key}' must be a non-empty text")
    _unicode(value, key)
    return value.strip()


def _unicode(value: str, key: str) -> None:
    if writable(value) != value:
        raise CommandError(f"'{key}' is not valid Unicode text (a lone surrogate)")


def run_command(
    register: Register, name: str, raw: bytes, limits: Limits = COMMAND_LIMITS
) -> Entry:
    """Carry out one command; raises :class:`CommandError` saying what was wrong."""
    if name not in COMMANDS:
        raise CommandError(f"unknown command {name!r}; one of {', '.join(COMMANDS)}")
    try:
        body = decode_json(raw, limits)
    except LimitError as err:
        raise CommandError(err.reason) from err
    except NotJson as err:
        raise CommandError("the payload is not JSON") from err
    if not isinstance(body, dict):
        raise CommandError("the payload must be a JSON object")
    ident = _text(body, "signal", "name the signal by its id")
    if not ident.isalnum():
        raise CommandError("'signal' must be a signal id (letters and digits)")
    by = _text(body, "by", 'say which role acts, e.g. "on_call"')
    try:
        entry = register.find(ident)
        if name == "ack":
            return register.acknowledge(entry.id, by)
        if name == "discuss":
            return register.discuss(entry.id, by, _text(body, "notes", "what was discussed"))
        if name == "assign":
            domain = _text(body, "domain", "care, welfare or housing")
            return register.assign(entry.id, domain, _text(body, "role", "who acts"), by)
        notes = body.get("notes", "")
        if not isinstance(notes, str):
            raise CommandError("'notes' must be a text")
        _unicode(notes, "notes")
        return register.close(
            entry.id, _text(body, "verdict", "confirmed, false_alarm or not_relevant"), by, notes
        )
    except RegisterError as err:
        raise CommandError(str(err)) from err
