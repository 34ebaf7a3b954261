"""The engine's own index structures agree with naive models (they must never miss an order)."""

from __future__ import annotations

from bisect import insort

from hypothesis import given, settings
from hypothesis import strategies as st

from services.matcher.engine import sortedkeys
from services.matcher.engine.fifo import NEG, FifoMaxTree
from services.matcher.engine.sortedkeys import SortedKeys

KEYS = st.tuples(st.integers(0, 50), st.integers(0, 2000))


@settings(max_examples=200, deadline=None)
@given(ops=st.lists(st.tuples(st.booleans(), KEYS), max_size=1500), high=KEYS)
def test_sorted_keys_match_a_sorted_list(ops, high):
    keys, model = SortedKeys(), []
    load, sortedkeys.LOAD = sortedkeys.LOAD, 3  # tiny buckets: split and empty them often
    try:
        for add, key in ops:
            if add and key not in model:
                keys.add(key)
                insort(model, key)
            elif not add and key in model:
                keys.remove(key)
                model.remove(key)
    finally:
        sortedkeys.LOAD = load
    assert len(keys._buckets) > 1 or len(model) <= 6
    assert list(keys) == model and len(keys) == len(model)
    assert list(keys.up_to(high)) == [k for k in model if k <= high]
    assert keys.count_above(high) == sum(1 for k in model if k > high)
    assert all(k in keys for k in model)


@settings(max_examples=200, deadline=None)
@given(
    ops=st.lists(
        st.tuples(st.sampled_from(["add", "set", "remove"]), st.integers(0, 400),
                  st.sampled_from([NEG, 1.0, 2.0, 3.0, float("inf")])),
        max_size=1500,
    ),
    x=st.sampled_from([0.5, 1.0, 2.5, 3.0, float("inf")]),
)  # fmt: skip
def test_fifo_tree_finds_the_oldest_keys_at_or_above_a_value(ops, x):
    tree, model = FifoMaxTree(capacity=4), {}  # tiny capacity: grow and compact often
    for op, n, value in ops:
        key = f"k{n}"
        if op == "add" and key not in model:
            tree.append(key, value)
            model[key] = value
        elif op == "set" and key in model:
            tree.set(key, value)
            model[key] = value
        elif op == "remove" and key in model:
            tree.remove(key)
            del model[key]
    assert list(tree.keys()) == list(model)  # insertion order survives compaction
    assert list(tree.at_least(x)) == [k for k, v in model.items() if v >= x]
    assert len(tree) == len(model)


SPANS = st.tuples(st.integers(0, 30), st.integers(0, 10)).map(lambda t: (t[0], t[0] + t[1]))


@settings(max_examples=200, deadline=None)
@given(
    ops=st.lists(
        st.tuples(st.sampled_from(["add", "set", "value", "remove"]), st.integers(0, 400),
                  st.sampled_from([NEG, 1.0, 2.0, 3.0]), SPANS),
        max_size=1500,
    ),
    x=st.sampled_from([0.5, 1.0, 2.5, 3.0]),
    window=SPANS,
    limit=st.integers(0, 60),
)  # fmt: skip
def test_fifo_tree_passes_over_spans_outside_the_window_but_counts_them(ops, x, window, limit):
    """The oldest ``limit`` keys at or above x are examined, whatever their span; of those,
    the ones whose span overlaps the window come out, oldest first."""
    tree, model = FifoMaxTree(capacity=4), {}
    for op, n, value, (lo, hi) in ops:
        key = f"k{n}"
        if op == "add" and key not in model:
            tree.append(key, value, lo, hi)
            model[key] = (value, lo, hi)
        elif op == "set" and key in model:
            tree.set(key, value, lo, hi)
            model[key] = (value, lo, hi)
        elif op == "value" and key in model:  # a new value only: the span stays
            tree.set(key, value)
            model[key] = (value, *model[key][1:])
        elif op == "remove" and key in model:
            tree.remove(key)
            del model[key]
    start, end = window
    examined = [(k, lo, hi) for k, (v, lo, hi) in model.items() if v >= x][:limit]
    expected = [k for k, lo, hi in examined if lo <= end and hi >= start]
    assert list(tree.at_least(x, start, end, limit)) == expected
    assert all(tree.span(k) == model[k][1:] for k in model)  # spans survive compaction


def test_fifo_tree_iteration_tolerates_changes_to_visited_keys():
    tree = FifoMaxTree()
    for i in range(10):
        tree.append(f"k{i}", 5.0)
    seen = []
    for key in tree.at_least(1.0):
        seen.append(key)
        tree.set(key, NEG)  # e.g. the demand just got all it wanted
    assert seen == [f"k{i}" for i in range(10)]
    assert list(tree.at_least(1.0)) == []
