"""Tests for L{hotline.bus}: typed events reach their subscribers, and only theirs."""

from __future__ import annotations

from dataclasses import dataclass

from twisted.internet import defer

from hotline.bus import EventBus


@dataclass(frozen=True)
class Base:
    n: int


@dataclass(frozen=True)
class Child(Base):
    pass


@dataclass(frozen=True)
class Other:
    pass


def test_an_event_reaches_the_subscribers_of_its_class_and_its_bases_in_order():
    """A Child goes to Child's subscribers, then Base's; Other's hear nothing."""
    bus, got = EventBus(), []
    bus.subscribe(Base, lambda e: got.append(("base", e.n)))
    bus.subscribe(Child, lambda e: got.append(("child", e.n)))
    bus.subscribe(Other, lambda e: got.append(("other",)))
    bus.publish(Child(1))
    bus.publish(Base(2))
    assert got == [("child", 1), ("base", 1), ("base", 2)]


def test_a_failing_subscriber_harms_no_other():
    """A subscriber that raises (or whose Deferred fails) is logged; the next one still runs."""
    bus, got = EventBus(), []

    def broken(event: Base) -> None:
        raise RuntimeError("boom")

    bus.subscribe(Base, broken)
    bus.subscribe(Base, lambda e: defer.fail(RuntimeError("later")))
    bus.subscribe(Base, lambda e: got.append(e.n))
    bus.publish(Base(7))
    assert got == [7]


def test_cancel_stops_deliveries_and_is_harmless_twice():
    """After cancel() a subscriber hears nothing more; cancelling again does nothing."""
    bus, got = EventBus(), []
    sub = bus.subscribe(Base, lambda e: got.append(e.n))
    bus.publish(Base(1))
    sub.cancel()
    sub.cancel()
    bus.publish(Base(2))
    assert got == [1] and not bus.listening(Base)


def test_subscribe_all_takes_a_table():
    """A consumer's one table of event class -> handler subscribes each."""
    bus, got = EventBus(), []
    subs = bus.subscribe_all({Base: lambda e: got.append("b"), Other: lambda e: got.append("o")})
    bus.publish(Other())
    bus.publish(Base(0))
    assert got == ["o", "b"] and len(subs) == 2
