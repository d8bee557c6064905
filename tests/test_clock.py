"""The clock guard: wrong clocks are quarantined, late messages handled, real jumps followed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from edge.clock import ClockConfig, ClockGuard

T0 = datetime(2026, 1, 5, 7, 0, tzinfo=UTC)


def test_1970_is_quarantined_even_as_the_first_message() -> None:
    g = ClockGuard(ClockConfig())
    v = g.check(datetime(1970, 1, 1, 0, 0, 5, tzinfo=UTC))
    assert not v.accepted
    assert "before 2015-01-01" in v.reason
    assert g.now is None
    assert g.check(T0).accepted
    assert g.now == T0


def test_a_year_ahead_does_not_move_event_time() -> None:
    g = ClockGuard(ClockConfig())
    g.check(T0)
    v = g.check(T0 + timedelta(days=365))
    assert not v.accepted
    assert "365 days ahead" in v.reason
    assert g.now == T0
    assert g.check(T0 + timedelta(seconds=1)).accepted
    assert g.now == T0 + timedelta(seconds=1)
    assert g.quarantined == 1


def test_slightly_out_of_order_is_accepted_without_moving_the_clock_back() -> None:
    g = ClockGuard(ClockConfig())
    g.check(T0)
    assert g.check(T0 - timedelta(seconds=40)).accepted
    assert g.now == T0


def test_far_too_late_is_quarantined() -> None:
    g = ClockGuard(ClockConfig(max_late_hours=1))
    g.check(T0)
    v = g.check(T0 - timedelta(hours=3))
    assert not v.accepted
    assert "3 hours behind" in v.reason


def test_a_real_jump_is_followed_after_enough_agreeing_messages() -> None:
    g = ClockGuard(ClockConfig(reanchor_after=5))
    g.check(T0)
    jumped = T0 + timedelta(days=40)
    verdicts = [g.check(jumped + timedelta(seconds=i)) for i in range(5)]
    assert [v.accepted for v in verdicts] == [False, False, False, False, True]
    assert verdicts[-1].reanchored
    assert g.now == jumped + timedelta(seconds=4)
    assert g.check(jumped + timedelta(seconds=10)).accepted


def test_scattered_outliers_never_re_anchor() -> None:
    g = ClockGuard(ClockConfig(reanchor_after=3))
    g.check(T0)
    for i in range(10):
        wild = T0 + timedelta(days=100 + 10 * i)
        assert not g.check(wild).accepted
    assert g.now == T0
