"""One translation catalogue: every entry in Dutch and English with the same placeholders,
and every name the hub shows (signal kinds, domains, rooms, statuses, verdicts, audit
actions, evidence renderers) present in it. A missing translation fails here."""

from __future__ import annotations

import pytest

from edge.catalogue import CATALOGUE
from edge.i18n import LANGUAGES, MissingText, placeholders, text
from edge.models import Domain, Room, SignalKind
from edge.register import STATUSES, VERDICTS
from integrations.agenda.evidence import RENDERERS

AUDIT_ACTIONS = ("raised", "repeat", "alerted", "acknowledged", "discussed", "assigned",
                 "closed", "cleared", "feedback")  # fmt: skip
"""What the register writes to the audit trail (edge/register.py, edge/pipeline.py)."""


@pytest.mark.parametrize("key", sorted(CATALOGUE))
def test_every_entry_in_both_languages_with_the_same_placeholders(key: str) -> None:
    entry = CATALOGUE[key]
    assert set(entry) == set(LANGUAGES), key
    assert all(entry[lang].strip() for lang in LANGUAGES), key
    assert placeholders(entry["nl"]) == placeholders(entry["en"]), key


def test_every_name_the_hub_shows_has_its_text() -> None:
    wanted = (
        [f"kind.{k.value}" for k in SignalKind]
        + [f"domain.{d.value}" for d in Domain]
        + [f"room.{r.value}" for r in Room]
        + [f"status.{s}" for s in STATUSES]
        + [f"verdict.{v}" for v in VERDICTS]
        + [f"action.{a}" for a in AUDIT_ACTIONS]
        + [f"weekday.{d}" for d in range(7)]
    )
    missing = [k for k in wanted if k not in CATALOGUE]
    assert missing == []


def test_every_signal_kind_has_its_evidence_in_words() -> None:
    assert {k.value for k in SignalKind} <= set(RENDERERS)


def test_a_missing_id_is_an_error_not_an_empty_text() -> None:
    with pytest.raises(MissingText):
        text("kind.no_such_kind", "nl")
    assert text("kind.fall", "xx") == text("kind.fall", "nl")  # an unknown language: Dutch
