"""Which orders clear in rounds, and when the matcher's ticker closes one: the settings, the
gateway's stamp rule and the ticker's clock, without a broker (the e2e test runs them live)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from ketnoi.runner import settings_env
from ketnoi.settings import Settings
from services.gateway.common import Lane, Placement
from services.gateway.problems import ApiProblem
from services.gateway.rounds import require_rounds
from services.matcher.round_clock import RoundClock


def test_round_settings_default_to_no_round_market_and_five_minutes(monkeypatch):
    monkeypatch.delenv("KETNOI_ROUND_MARKETS", raising=False)
    monkeypatch.delenv("KETNOI_ROUND_SECONDS", raising=False)
    settings = Settings()
    assert (settings.round_markets, settings.round_seconds) == ((), 300.0)


def test_round_markets_read_codes_or_names_once_each_in_order(monkeypatch):
    monkeypatch.setenv("KETNOI_ROUND_MARKETS", " coffee, cà phê ,Mật ong,,honey ")
    assert Settings().round_markets == ("coffee", "honey")
    monkeypatch.setenv("KETNOI_ROUND_MARKETS", "")
    assert Settings().round_markets == ()
    assert Settings(round_markets=["tea", "coffee"]).round_markets == ("tea", "coffee")


def test_an_unknown_round_market_is_refused_with_the_closest_code(monkeypatch):
    monkeypatch.setenv("KETNOI_ROUND_MARKETS", "coffee,cofee")
    with pytest.raises(ValidationError) as caught:
        Settings()
    [error] = caught.value.errors()
    message = error["msg"]
    assert "KETNOI_ROUND_MARKETS: 'cofee' is not a market (did you mean 'coffee'?)" in message
    assert "ginseng" in message  # the codes to choose from


@pytest.mark.parametrize("value", ["0", "-5", "nan", "inf", "soon"])
def test_round_seconds_must_be_a_positive_finite_number(monkeypatch, value):
    monkeypatch.setenv("KETNOI_ROUND_SECONDS", value)
    with pytest.raises(ValidationError, match="round_seconds"):
        Settings()


def test_a_child_process_sees_the_same_round_markets(monkeypatch):
    """The runner passes settings to services as environment variables: a tuple must come
    back as itself, not as its Python repr."""
    env = settings_env(Settings(round_markets=("tea", "coffee"), round_seconds=2.5))
    assert (env["KETNOI_ROUND_MARKETS"], env["KETNOI_ROUND_SECONDS"]) == ("tea,coffee", "2.5")
    for name in ("KETNOI_ROUND_MARKETS", "KETNOI_ROUND_SECONDS"):
        monkeypatch.setenv(name, env[name])
    child = Settings()
    assert (child.round_markets, child.round_seconds) == (("tea", "coffee"), 2.5)


ROUND_MARKETS = ("coffee",)


@pytest.mark.parametrize(
    ("placement", "category", "expected"),
    [
        (Placement(), "coffee", Lane(None, "rounds")),  # public, a round market
        (Placement(), "tea", Lane(None, "instant")),  # public, not one
        (Placement("s1"), "coffee", Lane(None, "rounds")),  # market-scoped session: public
        (Placement("s1"), "tea", Lane(None, "instant")),
        (Placement("s2", "s2", "rounds"), "tea", Lane("s2", "rounds")),  # the session decides
        (Placement("s3", "s3", "instant"), "coffee", Lane("s3", "instant")),  # even against
    ],
)
def test_a_new_order_clears_by_its_sessions_pool_else_by_its_market(placement, category, expected):
    assert placement.lane(category, ROUND_MARKETS) == expected


def test_an_update_keeps_the_stored_pool_and_mode():
    assert Lane.kept({"pool": "s2", "clearing": "rounds"}) == Lane("s2", "rounds")
    # recorded before clearing modes: instant, even in what is now a round market
    assert Lane.kept({"product": {"category": "coffee"}}) == Lane(None, "instant")


@pytest.mark.parametrize(
    ("scope", "clearing"), [("market", None), ("session", "instant"), (None, None)]
)
def test_only_a_session_scoped_rounds_session_has_rounds_to_close(scope, clearing):
    with pytest.raises(ApiProblem) as caught:
        require_rounds({"_id": "s1", "scope": scope, "clearing": clearing})
    assert caught.value.status == 409
    assert "no rounds to close" in caught.value.detail
    require_rounds({"_id": "s2", "scope": "session", "clearing": "rounds"})  # no problem


EPOCH = datetime(2031, 3, 1, tzinfo=UTC)  # a multiple of 300 s since 1970


def test_the_ticker_closes_a_round_once_per_boundary_per_market():
    clock = RoundClock(300)
    at = [EPOCH + timedelta(seconds=s) for s in (10, 40, 290, 299.9, 300, 330, 905)]
    # the first tick after start closes one; then one at each boundary passed
    assert [clock.closes_round("coffee", t) for t in at] == [
        True, False, False, False, True, False, True,
    ]  # fmt: skip
    # markets keep their own clock: tea's first tick closes one, whenever it comes
    assert clock.closes_round("tea", at[-1]) is True
    assert clock.closes_round("tea", at[-1] + timedelta(seconds=1)) is False


def test_rounds_shorter_than_the_tick_close_on_every_tick():
    clock = RoundClock(2)
    ticks = [EPOCH + timedelta(seconds=30 * n) for n in range(5)]
    assert all(clock.closes_round("coffee", t) for t in ticks)


def test_a_clock_going_back_closes_no_second_round():
    clock = RoundClock(60)
    assert clock.closes_round("coffee", EPOCH + timedelta(seconds=61))
    assert not clock.closes_round("coffee", EPOCH + timedelta(seconds=5))  # an NTP step back
    assert clock.closes_round("coffee", EPOCH + timedelta(seconds=120))


@pytest.mark.parametrize("seconds", [0, -1, float("nan"), float("inf")])
def test_the_clock_refuses_a_meaningless_interval(seconds):
    with pytest.raises(ValueError, match="round_seconds"):
        RoundClock(seconds)
