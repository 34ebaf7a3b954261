"""The optimum of bench/quality.py on hand-made cases whose max-flow and best score are known."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from bench.quality import (
    Problem,
    adversarial,
    build_problems,
    evaluate,
    grams,
    in_rounds,
    lot_feasible_volume,
    max_score,
    max_volume,
    measure,
    optimum,
    replay,
    run_engine,
)
from connectors.simulator import events as scenario_events
from schemas import events as ev
from services.matcher.engine.terms import DemandTerms, OfferTerms
from tests.factories import demand, offer

T0 = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def stream(*orders: Any) -> list[Any]:
    out = []
    for n, order in enumerate(orders, 1):
        env = {"event_id": uuid.UUID(int=n), "occurred_at": T0 + timedelta(minutes=n),
               "source": "test"}  # fmt: skip
        if hasattr(order, "offer_id"):
            out.append(ev.OfferPublished(offer=order, **env))
        else:
            out.append(ev.DemandPosted(demand=order, **env))
    return out


def test_max_flow_beats_greedy_and_the_best_score_need_not_be_the_biggest_volume():
    # Greedy by score gives A to D1 (90 points); D2 can only use A, so 10 t sell. Max-flow
    # sends A to D2 and B to D1: 20 t. Best score is still A -> D1: 900 > 500 + 100.
    p = Problem(
        offers={"A": 10_000, "B": 10_000},
        demands={"D1": 10_000, "D2": 10_000},
        weights={("A", "D1"): 90, ("A", "D2"): 50, ("B", "D1"): 10},
    )
    assert max_volume(p) == 20_000
    assert max_score(p) == 90 * 10_000


def test_partial_fills_add_up_across_offers():
    p = Problem(
        offers={"a": 8_000, "b": 7_000, "c": 5_000},
        demands={"d": 20_000, "e": 3_000},
        weights={("a", "d"): 1, ("b", "d"): 1, ("c", "d"): 1, ("c", "e"): 1},
    )
    assert max_volume(p) == 20_000  # d 20 t, or d 17 t + e 3 t: never more than supply
    assert max_volume(Problem()) == 0 and max_score(Problem()) == 0


def test_the_engine_greedy_order_misses_what_the_max_flow_finds():
    orders = stream(
        offer("A", "10", price=40_000),  # ships anywhere, cheaper: D1's first choice
        offer("B", "10", price=45_000, ships_to=["Hà Nội"]),
        demand("D1", "10", delivery_province="Hà Nội"),
        demand("D2", "10"),  # Hải Phòng: only A delivers there
    )
    problems = build_problems(orders)
    assert set(problems["fresh-fruit"].weights) == {("A", "D1"), ("B", "D1"), ("A", "D2")}
    best = optimum(problems)
    assert best.volume_g == 20_000_000
    result = evaluate(run_engine(orders), problems, best)
    assert result["volume_t"] == 10.0 and result["max_volume_t"] == 20.0
    assert result["volume_share"] == pytest.approx(0.5)
    assert result["outside_pairs"] == 0
    assert 0 < result["score_share"] <= 1


def test_lot_rules_decide_whether_a_pair_exists_at_its_full_quantity():
    whole_only = stream(
        offer("a", "8"), offer("b", "7"), offer("c", "5"),
        demand("d", "20", accepts_partial=False),
    )  # fmt: skip
    assert optimum(build_problems(whole_only)).volume_g == 0  # no single offer holds 20 t
    partial = stream(offer("a", "8"), offer("b", "7"), offer("c", "5"), demand("d", "20"))
    assert optimum(build_problems(partial)).volume_g == 20_000_000
    too_small = stream(
        offer("big-lots", "10", min_order={"amount": "5", "unit": "tấn"}), demand("d", "3")
    )
    assert build_problems(too_small)["fresh-fruit"].weights == {}


def test_adversarial_order_puts_offers_first_then_the_biggest_demands():
    orders = stream(demand("small", "1"), offer("o1", "5"), demand("big", "9"),
                    offer("o2", "5"), demand("mid", "4"))  # fmt: skip
    names = [
        e.offer.offer_id if isinstance(e, ev.OfferPublished) else e.demand.demand_id
        for e in adversarial(orders)
    ]
    assert names == ["o1", "o2", "big", "mid", "small"]


def test_grams_are_exact():
    assert grams(Decimal("1.5")) == 1500
    with pytest.raises(ValueError):
        grams(Decimal("0.0001"))


def test_the_lot_feasible_bound_repairs_flows_below_a_minimum_order():
    # A sells 10 t in lots of at least 6 t; two buyers want 7 t each. The relaxed max-flow
    # sells all 10 t (7 + 3, or 5 + 5); with lots respected only one buyer can be served: 7 t.
    p = Problem(
        offers={"A": 10_000},
        demands={"D1": 7_000, "D2": 7_000},
        weights={("A", "D1"): 1, ("A", "D2"): 1},
        minimums={("A", "D1"): 6_000, ("A", "D2"): 6_000},
    )
    assert max_volume(p) == 10_000
    assert lot_feasible_volume(p) == 7_000


def test_smallest_lots_come_from_the_engine_terms():
    orders = stream(
        offer("A", "10", min_order={"amount": "2", "unit": "tấn"}),
        demand("lot", "5", min_lot={"amount": "3", "unit": "tấn"}),
        demand("whole", "4", accepts_partial=False),
        demand("any", "3"),
        demand("too-small", "1"),  # below A's minimum order: no pair at all
    )
    assert build_problems(orders)["fresh-fruit"].minimums == {
        ("A", "lot"): 3_000_000,
        ("A", "whole"): 4_000_000,
        ("A", "any"): 2_000_000,
    }


def test_rounds_streams_close_a_round_per_market_every_n_orders_at_the_latest_time():
    orders = stream(offer("o1", "5"), demand("d1", "3"), offer("o2", "5", category="coffee"),
                    demand("d2", "4"), demand("d3", "2"))  # fmt: skip
    backwards = [orders[3], orders[0], orders[4], orders[1], orders[2]]
    events = in_rounds(backwards, 2)
    kinds = [e.type for e in events]
    order, tick = "order", "market.tick"
    assert [tick if k == tick else order for k in kinds] == [
        order, order, tick, tick, order, order, tick, tick, order, tick, tick
    ]  # fmt: skip
    ticks = [e for e in events if isinstance(e, ev.MarketTick)]
    assert all(t.closes_round for t in ticks)
    assert [t.category for t in ticks[:2]] == ["coffee", "fresh-fruit"]
    assert [t.occurred_at for t in ticks[::2]] == [orders[3].occurred_at, orders[4].occurred_at,
                                                   orders[4].occurred_at]  # fmt: skip
    assert len({t.event_id for t in ticks}) == len(ticks)
    placed = [e for e in events if not isinstance(e, ev.MarketTick)]
    assert all((e.offer if hasattr(e, "offer") else e.demand).clearing == "rounds" for e in placed)
    assert len(in_rounds(backwards, None)) == 5 + 2  # one round: a tick per market at the end


def test_rounds_runs_of_the_quality_bench_are_feasible_and_not_vacuous():
    orders = list(scenario_events(seed=42, count=160))
    offers = {e.offer.offer_id: OfferTerms.from_offer(e.offer)
              for e in orders if isinstance(e, ev.OfferPublished)}  # fmt: skip
    demands = {e.demand.demand_id: DemandTerms.from_demand(e.demand)
               for e in orders if isinstance(e, ev.DemandPosted)}  # fmt: skip
    for every in (None, 40):
        for arrival in (orders, adversarial(orders)):
            done = replay(in_rounds(arrival, every))
            assert done.proposed, "a round that proposes nothing tests nothing"
            sold: dict[str, Decimal] = {}
            bought: dict[str, Decimal] = {}
            for m in done.proposed:
                o, d = offers[m.offer_id], demands[m.demand_id]
                assert m.quantity_kg >= (o.min_order_kg or 0)
                assert m.quantity_kg >= (d.min_lot_kg or 0)
                assert d.accepts_partial or m.quantity_kg == d.quantity_kg
                sold[m.offer_id] = sold.get(m.offer_id, Decimal(0)) + m.quantity_kg
                bought[m.demand_id] = bought.get(m.demand_id, Decimal(0)) + m.quantity_kg
            assert all(kg <= offers[oid].quantity_kg for oid, kg in sold.items())
            assert all(kg <= demands[did].quantity_kg for did, kg in bought.items())
            assert done.released_by_rounds == 0 and not done.released

    result = measure(seed=42, count=160, rounds_of=(40,))
    assert list(result["modes"]) == ["instant", "one round", "rounds of 40"]
    assert result["runs"] is result["modes"]["instant"]
    for runs in result["modes"].values():
        assert set(runs) == {"scenario", "adversarial"}
        for r in runs.values():
            assert r["outside_pairs"] == 0
            assert r["volume_t"] > 0 and r["volume_share"] <= 1  # the relaxed max-flow bounds it
            assert 0 < r["score_share"] <= 1
            assert r["churn_per_1000"] == 0
    markets = result["markets"]
    assert result["modes"]["rounds of 40"]["scenario"]["events"] == 160 + 4 * markets
    assert result["modes"]["one round"]["adversarial"]["events"] == 160 + markets


def test_the_clearing_bench_rounds_every_market_and_beats_first_come_on_one():
    from bench import clearing

    spread = clearing.every_market(seed=7, n=300)
    assert spread["markets"] > 1 and spread["volume_t"] > 0
    assert spread["slowest_s"] <= spread["seconds"]
    one = clearing.measure(orders=300, repeat=1, seed=7, market="fresh-fruit")
    assert one["proposals"] > 0 and one["volume_t"] >= one["instant_volume_t"] > 0
    assert one["cold_s"] > 0 and one["fill_median_s"] > 0  # a restored book's round agreed
    assert one["next_round"]["answers"] > 0 and one["next_round"]["orders"] == 300
