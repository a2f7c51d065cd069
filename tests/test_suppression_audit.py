"""Suppression that a solver cannot undo: `network.suppression.protect` checked by a linear-programming
audit written here from what the tables mean (independent of the module's own `audit`), the way
statistical agencies audit a suppressed table (tau-ARGUS): for every hidden figure, the smallest and
largest value consistent with everything shown must lie at least the threshold apart.

Run with -s to see how many tables and networks were audited and the narrowest interval found."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from network.suppression import Cell, audit, line_total, protect, suppress_mapping, suppress_series

THRESHOLD = 5  # the network policy's default
TOLERANCE = 1e-6  # LP optima are floats

FIGURES = {"series": 0, "networks": 0, "network_cells": 0, "hidden": 0, "narrowest": float("inf")}


@pytest.fixture(scope="module", autouse=True)
def _print_audit_figures():
    yield
    print(
        f"\nSuppression audit: {FIGURES['series']} tables with their totals and {FIGURES['networks']} networks "
        f"({FIGURES['network_cells']} figures) audited, {FIGURES['hidden']} hidden figures, narrowest protection "
        f"interval {FIGURES['narrowest']:g}"
    )


def _note(widths: list[float]) -> None:
    FIGURES["hidden"] += len(widths)
    FIGURES["narrowest"] = min([FIGURES["narrowest"], *widths])


def lp_range(c, a_eq, b_eq, a_ub=None, b_ub=None) -> tuple[float, float]:
    """min and max of c.x over x >= 0 with a_eq x = b_eq and a_ub x <= b_ub."""
    kwargs = {"A_eq": a_eq, "b_eq": b_eq, "A_ub": a_ub, "b_ub": b_ub, "bounds": (0, None), "method": "highs"}
    low = linprog(c, **kwargs)
    high = linprog(-np.asarray(c, dtype=float), **kwargs)
    assert low.status == 0, low.message
    assert high.status in (0, 3), high.message  # 3: unbounded above
    return low.fun, (float("inf") if high.status == 3 else -high.fun)


# --- One row of counts shown with its total ----------------------------------------------------------------


def series_intervals(shown: list[int | None], total: int | None) -> dict[int, tuple[float, float]]:
    """What an attacker can work out of a row: each shown count is itself, the counts add up to the total."""
    n = len(shown)
    rows, rhs = [], []
    for i, value in enumerate(shown):
        if value is not None:
            rows.append([1.0 if j == i else 0.0 for j in range(n)])
            rhs.append(value)
    if total is not None:
        rows.append([1.0] * n)
        rhs.append(total)
    a_eq, b_eq = (np.array(rows), np.array(rhs)) if rows else (None, None)
    return {i: lp_range(np.eye(n)[i], a_eq, b_eq) for i in range(n) if shown[i] is None}


def series_cells(values: list[int]) -> list[Cell]:
    return [Cell(("count", i), frozenset({i}), v) for i, v in enumerate(values)] + [
        Cell("total", frozenset(range(len(values))), sum(values))
    ]


def old_suppress_series(values: list[int], threshold: int) -> list[int | None]:
    """The scheme as it was: small cells, then the smallest other cell (zeros included, ties by
    position) while exactly one cell is hidden."""
    hidden = {i for i, v in enumerate(values) if 0 < v < threshold}
    if len(hidden) == 1 and len(values) > 1:
        hidden.add(min((i for i in range(len(values)) if i not in hidden), key=lambda i: (values[i], i)))
    return [None if i in hidden else v for i, v in enumerate(values)]


def test_a_row_with_its_total_no_longer_has_a_unique_solution():
    values = [35, 12, 6, 2, 1, 1]
    shown = protect(series_cells(values), threshold=THRESHOLD)
    assert shown["total"] == 57
    row = [shown[("count", i)] for i in range(len(values))]
    assert row == [35, 12, None, None, None, None]  # 6 joins the hidden cells: each could be 0 to 10
    widths = [high - low for low, high in series_intervals(row, 57).values()]
    assert min(widths) >= THRESHOLD - TOLERANCE
    assert suppress_series(values, THRESHOLD) == row  # the dashboards' helper gives the same row
    FIGURES["series"] += 1
    _note(widths)


def test_the_audit_finds_the_hidden_counts_the_old_scheme_gave_away():
    values = [35, 12, 6, 2, 1, 1]
    old = old_suppress_series(values, THRESHOLD)
    assert old == [35, 12, 6, None, None, None]
    intervals = series_intervals(old, line_total(old, values, THRESHOLD))
    # Each hidden count lies in 0..4, narrower than the threshold: the audit fails this row. (Knowing that
    # hidden counts are 1 to 4 and that the rows came sorted by value, (2, 1, 1) is the only solution.)
    assert intervals == {3: (0, 4), 4: (0, 4), 5: (0, 4)}
    assert all(high - low < THRESHOLD for low, high in intervals.values())


def test_zeros_are_never_complements():
    shown = protect(series_cells([0, 0, 3, 40, 0]), threshold=THRESHOLD)
    assert [shown[("count", i)] for i in range(5)] == [0, 0, None, None, 0]
    assert suppress_mapping({"a": 7, "b": 1, "c": 0}, THRESHOLD) == {"a": None, "b": None, "c": 0}
    # With nothing but zeros beside it, the small count is hidden and so is the total (itself small).
    assert suppress_series([0, 3, 0], THRESHOLD) == [0, None, 0]
    assert line_total([0, None, 0], [0, 3, 0], THRESHOLD) is None


def test_ties_between_complements_are_broken_by_key_not_by_position():
    first = protect(
        [Cell("b", frozenset({1}), 9), Cell("a", frozenset({2}), 9), Cell("small", frozenset({3}), 2)]
        + [Cell("total", frozenset({1, 2, 3}), 20)],
        threshold=THRESHOLD,
    )
    second = protect(
        [Cell("small", frozenset({3}), 2), Cell("a", frozenset({2}), 9), Cell("b", frozenset({1}), 9)]
        + [Cell("total", frozenset({1, 2, 3}), 20)],
        threshold=THRESHOLD,
    )
    assert first == second and first["a"] is None and first["b"] == 9


def test_a_hidden_month_stays_protected_when_its_quarter_is_published():
    months = [Cell(("month", m), frozenset({m}), v) for m, v in ((1, 40), (2, 3), (3, 20))]
    earlier = [(months[0], True), (months[1], False), (months[2], True)]
    quarter = Cell("quarter", frozenset({1, 2, 3}), 63)
    shown = protect([quarter], threshold=THRESHOLD, fixed=earlier)
    assert shown == {"quarter": None}  # 63 - 40 - 20 would give the hidden month away
    assert audit([*earlier, (quarter, False)])[("month", 2)][1] == float("inf")


def test_a_hidden_agency_stays_protected_when_a_region_total_is_published():
    agencies = [Cell(("agency", n), frozenset({(n, "x"), (n, "y")}), v) for n, v in ((1, 30), (2, 2), (3, 25))]
    earlier = [(agencies[0], True), (agencies[1], False), (agencies[2], True)]
    parts = [Cell(("agency", 3, "x"), frozenset({(3, "x")}), 20), Cell(("agency", 3, "y"), frozenset({(3, "y")}), 5)]
    region = Cell("region", frozenset(atom for cell in agencies for atom in cell.atoms), 57)
    shown = protect([region, *parts], threshold=THRESHOLD, fixed=earlier)
    assert shown["region"] is None
    intervals = audit([*earlier, *((cell, shown[cell.key] is not None) for cell in [region, *parts])])
    assert min(high - low for low, high in intervals.values()) >= THRESHOLD - TOLERANCE


def test_equalities_an_attacker_knows_are_honoured():
    """Every encounter has one contact mode and one initiator: the initiator table gives the total of
    the mode table even when that total is not published."""
    modes = {"in_person": 20, "phone": 2, "video": 0, "text": 8}
    initiators = {"self": 10, "peer": 20}
    cells = [Cell(("mode", k), frozenset({("mode", k)}), v) for k, v in modes.items()]
    cells += [Cell(("initiator", k), frozenset({("initiator", k)}), v) for k, v in initiators.items()]
    one_each = [(frozenset({("mode", k) for k in modes}), frozenset({("initiator", k) for k in initiators}))]
    without = protect(cells, threshold=THRESHOLD)
    assert [without[("mode", k)] for k in modes] == [20, None, 0, 8]  # nothing says what they add up to
    shown = protect(cells, threshold=THRESHOLD, equalities=one_each)
    assert [shown[("mode", k)] for k in modes] == [20, None, 0, None]  # 30 - 20 - 8 would be the phone count
    intervals = audit([(cell, shown[cell.key] is not None) for cell in cells], equalities=one_each)
    assert intervals[("mode", "phone")] == (0.0, 10.0)


def test_a_fixed_figure_that_contradicts_the_others_is_refused():
    with pytest.raises(ValueError):
        protect(
            [Cell("a", frozenset({1}), 4), Cell("b", frozenset({2}), 9)],
            threshold=THRESHOLD,
            fixed=[(Cell("old total", frozenset({1, 2}), 30), True)],
        )


@settings(max_examples=150, deadline=None)
@given(
    values=st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=10),
    threshold=st.integers(min_value=2, max_value=11),
)
def test_dashboard_rows_pass_the_audit_with_their_total(values, threshold):
    shown = suppress_series(values, threshold)
    total = line_total(shown, values, threshold)
    assert all(v in (None, true) for v, true in zip(shown, values, strict=True))
    assert not any(v is not None and 0 < v < threshold for v in shown)
    assert not any(v is None for v, true in zip(shown, values, strict=True) if true == 0)
    intervals = series_intervals(shown, total)
    widths = [high - low for low, high in intervals.values()]
    assert all(width >= threshold - TOLERANCE for width in widths), (values, shown, total, intervals)
    FIGURES["series"] += 1
    _note([w / threshold * THRESHOLD for w in widths])  # in units of the default threshold


# --- Random networks: agencies in regions, tables over a vocabulary, region and network sums ---------------

SINGLE = {  # one term per encounter: each table adds up to the agency's encounter total
    "contact_mode": ["in_person", "phone", "video", "text"],
    "initiator": ["self", "peer", "supervisor", "activation", "family"],
}
MULTI = {  # one or more terms per encounter: the table has its own total (mentions)
    "topic": ["critical_incident", "work_stress", "family", "finances", "grief", "health"],
}


@dataclass
class Network:
    region_of: dict[int, int]
    counts: dict[tuple, int]  # (agency, vocabulary, term) -> encounters
    cells: list[Cell] = field(default_factory=list)
    equalities: list[tuple[frozenset, frozenset]] = field(default_factory=list)

    def agencies_in(self, scope: tuple) -> list[int]:
        if scope[0] == "agency":
            return [scope[1]]
        if scope[0] == "region":
            return [a for a, r in self.region_of.items() if r == scope[1]]
        return sorted(self.region_of)


def random_network(rng: random.Random, agencies: int, regions: int) -> Network:
    """Encounters drawn one by one (many small peer teams, a few busy ones), counted into the tables an
    agency publishes, and the same tables for each region and the network; the engine is told what an
    attacker knows besides: the tables of one encounter each add up alike, and a topic count is at
    most the encounter total while the topic mentions are at least it (spelled with unpublished atoms)."""
    network = Network(region_of={a: rng.randrange(regions) for a in range(agencies)}, counts={})
    for a in range(agencies):
        for vocabulary, terms in {**SINGLE, **MULTI}.items():
            for term in terms:
                network.counts[(a, vocabulary, term)] = 0
        for _ in range(rng.choice([0, rng.randint(1, 6), rng.randint(1, 20), rng.randint(5, 60)])):
            for vocabulary, terms in SINGLE.items():
                network.counts[(a, vocabulary, rng.choice(terms[: rng.randint(1, len(terms))]))] += 1
            for vocabulary, terms in MULTI.items():
                for term in rng.sample(terms, rng.choice([1, 1, 2])):
                    network.counts[(a, vocabulary, term)] += 1
    scopes = [("agency", a) for a in range(agencies)] + [("region", r) for r in range(regions)] + [("network",)]
    for scope in scopes:
        members = network.agencies_in(scope)
        if not members:
            continue
        figures = {("encounters",): [(a, "contact_mode", t) for a in members for t in SINGLE["contact_mode"]]}
        for vocabulary, terms in {**SINGLE, **MULTI}.items():
            for term in terms:
                figures[(vocabulary, term)] = [(a, vocabulary, term) for a in members]
        for vocabulary, terms in MULTI.items():
            figures[(vocabulary, "total")] = [(a, vocabulary, t) for a in members for t in terms]
        for name, atoms in figures.items():
            network.cells.append(Cell(scope + name, frozenset(atoms), sum(network.counts[x] for x in atoms)))
    for a in range(agencies):
        modes = frozenset((a, "contact_mode", t) for t in SINGLE["contact_mode"])
        network.equalities.append((modes, frozenset((a, "initiator", t) for t in SINGLE["initiator"])))
        for vocabulary, terms in MULTI.items():
            for t in terms:
                network.equalities.append((frozenset({(a, vocabulary, t), (a, "without", vocabulary, t)}), modes))
            mentions = frozenset((a, vocabulary, t) for t in terms)
            network.equalities.append((mentions, modes | {(a, "extra", vocabulary)}))
    return network


def split(key: tuple) -> tuple[tuple, tuple]:
    """("agency", 3, "topic", "grief") -> (("agency", 3), ("topic", "grief")); the network has no number."""
    scope = key[:1] if key[0] == "network" else key[:2]
    return scope, key[len(scope) :]


def network_intervals(network: Network, shown: dict) -> dict:
    """The attacker's LP, from the tables' meaning: one unknown per agency, vocabulary and term; each
    agency's single-valued tables add up alike; a topic count is at most the encounters, the mentions at
    least them; every shown figure is the sum of its agencies' counts."""
    variables = {key: n for n, key in enumerate(sorted(network.counts, key=repr))}
    size = len(variables)

    def vector(terms: dict) -> np.ndarray:
        row = np.zeros(size)
        for key, weight in terms.items():
            row[variables[key]] += weight
        return row

    def figure(key: tuple) -> np.ndarray:
        scope, name = split(key)
        members = network.agencies_in(scope)
        if name == ("encounters",):
            return vector({(a, "contact_mode", t): 1 for a in members for t in SINGLE["contact_mode"]})
        vocabulary, term = name
        terms = MULTI[vocabulary] if term == "total" else [term]
        return vector({(a, vocabulary, t): 1 for a in members for t in terms})

    eq, eq_rhs, ub, ub_rhs = [], [], [], []
    for a in network.region_of:
        encounters = {(a, "contact_mode", t): 1 for t in SINGLE["contact_mode"]}
        eq.append(vector(encounters) - vector({(a, "initiator", t): 1 for t in SINGLE["initiator"]}))
        eq_rhs.append(0)
        for vocabulary, terms in MULTI.items():
            for t in terms:
                ub.append(vector({(a, vocabulary, t): 1}) - vector(encounters))
                ub_rhs.append(0)
            ub.append(vector(encounters) - vector({(a, vocabulary, t): 1 for t in terms}))
            ub_rhs.append(0)
    for key, value in shown.items():
        if value is not None:
            eq.append(figure(key))
            eq_rhs.append(value)
    a_eq, b_eq, a_ub, b_ub = np.array(eq), np.array(eq_rhs), np.array(ub), np.array(ub_rhs)
    return {key: lp_range(figure(key), a_eq, b_eq, a_ub, b_ub) for key, value in shown.items() if value is None}


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    rng=st.randoms(use_true_random=False),
    agencies=st.integers(min_value=2, max_value=6),
    regions=st.integers(min_value=1, max_value=3),
    threshold=st.integers(min_value=3, max_value=11),
)
def test_random_networks_pass_the_linear_programming_audit(rng, agencies, regions, threshold):
    network = random_network(rng, agencies, regions)
    shown = protect(network.cells, threshold=threshold, equalities=network.equalities)
    for cell in network.cells:
        assert shown[cell.key] in (None, cell.value)
        assert not (shown[cell.key] is not None and 0 < cell.value < threshold), cell.key
        assert not (shown[cell.key] is None and cell.value == 0), cell.key  # a zero protects nothing
    intervals = network_intervals(network, shown)
    narrow = {key: bounds for key, bounds in intervals.items() if bounds[1] - bounds[0] < threshold - TOLERANCE}
    assert not narrow
    FIGURES["networks"] += 1
    FIGURES["network_cells"] += len(network.cells)
    _note([(high - low) / threshold * THRESHOLD for low, high in intervals.values()])


def test_the_network_audit_fails_on_the_old_scheme():
    """The same audit catches what the old per-table scheme leaves open in a network."""
    caught = 0
    for seed in range(10):
        network = random_network(random.Random(seed), 4, 2)
        values = {cell.key: cell.value for cell in network.cells}
        shown = dict(values)
        for scope in {split(cell.key)[0] for cell in network.cells}:
            for vocabulary, terms in {**SINGLE, **MULTI}.items():
                keys = [scope + (vocabulary, term) for term in terms]
                total = scope + (("encounters",) if vocabulary in SINGLE else (vocabulary, "total"))
                row = old_suppress_series([values[k] for k in keys], THRESHOLD)
                shown.update(zip(keys, row, strict=True))
                if line_total(row, [values[k] for k in keys], THRESHOLD) is None:
                    shown[total] = None
        intervals = network_intervals(network, shown)
        caught += any(high - low < THRESHOLD - TOLERANCE for low, high in intervals.values())
    assert caught >= 5


def test_the_module_audit_agrees_with_the_audit_written_here():
    network = random_network(random.Random(7), 4, 2)
    shown = protect(network.cells, threshold=THRESHOLD, equalities=network.equalities)
    ours = network_intervals(network, shown)
    theirs = audit([(cell, shown[cell.key] is not None) for cell in network.cells], equalities=network.equalities)
    assert ours.keys() == theirs.keys()
    for key, (low, high) in ours.items():
        assert theirs[key][0] == pytest.approx(low, abs=1e-6)
        assert theirs[key][1] == pytest.approx(high, abs=1e-6) or high == theirs[key][1] == float("inf")


@settings(max_examples=25, deadline=None)
@given(
    months=st.lists(st.lists(st.integers(min_value=0, max_value=12), min_size=4, max_size=4), min_size=3, max_size=3),
    threshold=st.integers(min_value=3, max_value=8),
)
# Found by this test: the quarter's last term (3) was fully known from the months, so hiding it as a
# complement protected nothing; the quarter total had to go instead.
@example(months=[[0, 0, 0, 0], [0, 0, 0, 3], [0, 0, 1, 0]], threshold=3)
def test_figures_published_later_never_narrow_what_was_hidden_before(months, threshold):
    """Three months of one table (each with its total) are published first; later the quarter (each
    term's sum and the quarter total) is published with the months as fixed figures. Audited together,
    from what the figures mean: one unknown per month and term."""
    terms = range(len(months[0]))

    def month_cells(m):
        cells = [Cell(("month", m, t), frozenset({(m, t)}), months[m][t]) for t in terms]
        return cells + [Cell(("month", m, "total"), frozenset((m, t) for t in terms), sum(months[m]))]

    earlier = []
    for m in range(3):
        cells = month_cells(m)
        shown = protect(cells, threshold=threshold)
        earlier += [(cell, shown[cell.key] is not None) for cell in cells]
    quarter = [
        Cell(("quarter", t), frozenset((m, t) for m in range(3)), sum(months[m][t] for m in range(3))) for t in terms
    ]
    quarter.append(
        Cell(("quarter", "total"), frozenset((m, t) for m in range(3) for t in terms), sum(map(sum, months)))
    )
    shown = protect(quarter, threshold=threshold, fixed=earlier)
    published = earlier + [(cell, shown[cell.key] is not None) for cell in quarter]

    index = {(m, t): m * len(terms) + t for m in range(3) for t in terms}

    def figure(key) -> np.ndarray:
        row = np.zeros(len(index))
        if key[0] == "month":
            for t in terms if key[2] == "total" else [key[2]]:
                row[index[(key[1], t)]] = 1
        else:
            for m in range(3):
                for t in terms if key[1] == "total" else [key[1]]:
                    row[index[(m, t)]] = 1
        return row

    shown_rows = [(figure(cell.key), cell.value) for cell, visible in published if visible]
    a_eq = np.array([row for row, _value in shown_rows]) if shown_rows else None
    b_eq = np.array([value for _row, value in shown_rows]) if shown_rows else None
    widths = []
    for cell, visible in published:
        assert visible or cell.value != 0  # a zero protects nothing
        if not visible:
            low, high = lp_range(figure(cell.key), a_eq, b_eq)
            assert high - low >= threshold - TOLERANCE, (cell.key, low, high)
            widths.append((high - low) / threshold * THRESHOLD)
    FIGURES["series"] += 4
    _note(widths)
