"""The agreement rule: what both parties of a meeting stated alike is agreed; every other
statement is a claim of its party. One rule for outcomes and for deliveries."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.programme.outcomes import (
    agreement,
    delivery_agreement,
    is_deal,
    outcome_terms,
)

CONTRACT = {"kind": "contract", "volume_kg": 20000.0, "value_vnd": 900_000_000,
            "delivery_start": "2026-12-10", "delivery_end": "2026-12-31"}  # fmt: skip


def test_the_same_contract_from_both_sides_is_agreed():
    settled = agreement({"buyer": CONTRACT, "supplier": dict(CONTRACT)})
    assert settled.agreed == {"kind": "contract", "volume_kg": 20000.0, "value_vnd": 900_000_000}
    assert settled.claimed_by == ()
    assert is_deal(settled.agreed)


def test_one_side_alone_claims():
    settled = agreement({"buyer": None, "supplier": CONTRACT})
    assert settled.agreed is None and settled.claimed_by == ("supplier",)
    assert agreement({"buyer": CONTRACT}).claimed_by == ("buyer",)


def test_nothing_stated_is_neither_agreed_nor_claimed():
    for empty in (None, {}, {"buyer": None, "supplier": None}):
        settled = agreement(empty)
        assert settled.agreed is None and settled.claimed_by == ()
        assert settled.as_fields() == {"agreed": None, "claimed_by": []}


@pytest.mark.parametrize(
    ("field", "other"),
    [("kind", "mou"), ("volume_kg", 19999.0), ("value_vnd", 899_999_999)],
)
def test_any_difference_in_kind_volume_or_value_leaves_both_claiming(field, other):
    settled = agreement({"buyer": CONTRACT, "supplier": {**CONTRACT, field: other}})
    assert settled.agreed is None
    assert settled.claimed_by == ("buyer", "supplier")


def test_delivery_dates_of_a_contract_do_not_decide_agreement():
    later = {**CONTRACT, "delivery_start": "2027-01-05", "delivery_end": "2027-02-01"}
    assert agreement({"buyer": CONTRACT, "supplier": later}).agreed is not None


def test_volumes_agree_to_the_gram_whatever_unit_they_came_in():
    # 20 tấn stored as 20000.0 kg and 20000 kg with float noise are the same volume.
    noisy = {**CONTRACT, "volume_kg": 20000.0000001}
    assert agreement({"buyer": CONTRACT, "supplier": noisy}).agreed is not None
    grams = {**CONTRACT, "volume_kg": 20000.001}
    assert agreement({"buyer": CONTRACT, "supplier": grams}).agreed is None


def test_no_deal_on_both_sides_is_agreed_but_not_a_deal():
    settled = agreement({"buyer": {"kind": "no_deal"}, "supplier": {"kind": "no_deal"}})
    assert settled.agreed == {"kind": "no_deal", "volume_kg": None, "value_vnd": None}
    assert not is_deal(settled.agreed)
    assert is_deal({"kind": "mou"}) and not is_deal(None)


def test_a_delivery_is_confirmed_only_with_the_same_date_quantity_and_value():
    stated = {"delivered_on": "2026-12-20", "quantity_kg": 5000.0, "value_vnd": 225_000_000}
    assert delivery_agreement({"buyer": stated, "supplier": dict(stated)}).agreed == stated
    other_day = {**stated, "delivered_on": "2026-12-21"}
    settled = delivery_agreement({"buyer": stated, "supplier": other_day})
    assert settled.agreed is None and settled.claimed_by == ("buyer", "supplier")
    assert delivery_agreement({"supplier": stated}).claimed_by == ("supplier",)


def test_unknown_parties_and_malformed_statements_count_for_nothing():
    settled = agreement({"organizer": CONTRACT, "buyer": "contract", "supplier": CONTRACT})
    assert settled.agreed is None and settled.claimed_by == ("supplier",)


TERMS = st.fixed_dictionaries({
    "kind": st.sampled_from(["no_deal", "mou", "contract"]),
    "volume_kg": st.none() | st.floats(0.001, 1e9, allow_nan=False),
    "value_vnd": st.none() | st.integers(0, 10**15),
})  # fmt: skip


@given(buyer=st.none() | TERMS, supplier=st.none() | TERMS)
def test_every_statement_is_either_agreed_or_claimed(buyer, supplier):
    """Agreed exactly when both stated the same terms; otherwise each statement is a claim."""
    settled = agreement({"buyer": buyer, "supplier": supplier})
    stated = tuple(p for p, s in (("buyer", buyer), ("supplier", supplier)) if s is not None)
    same = buyer is not None and supplier is not None
    same = same and outcome_terms(buyer) == outcome_terms(supplier)
    assert (settled.agreed is not None) == same
    assert settled.claimed_by == (() if same else stated)
    # Symmetric: which side spoke first or is called buyer does not change the verdict.
    swapped = agreement({"buyer": supplier, "supplier": buyer})
    assert swapped.agreed == settled.agreed
    assert len(swapped.claimed_by) == len(settled.claimed_by)
