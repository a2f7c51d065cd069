"""Small-cell suppression that a solver cannot undo: no published number small enough to point at a
person, and for every hidden number a protection interval at least the threshold wide
(../shared/DOMAIN.md, "What leaders can work out"; docs/reporting.md, "Suppression and its audit").

`protect` decides which figures of a publication are hidden; `audit` is the linear-programming audit of
tau-ARGUS that measures what an attacker with a solver can work out from what is shown."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import csr_matrix

logger = logging.getLogger(__name__)

# Solver tolerances: LP optima are floats; a width within this of the threshold counts as reaching it.
_EPS = 1e-6
_DUAL_EPS = 1e-9


@dataclass(frozen=True)
class Cell:
    """A figure that may be published: the sum of some atomic counts."""

    key: Hashable  # caller's identifier, e.g. ("agency", 12, "topic", "grief")
    atoms: frozenset[Hashable]  # the atomic counts it adds up; an atom published alone is a Cell with one atom
    value: int  # its true value


Equality = tuple[frozenset, frozenset]


class _Constraints:
    """Everything shown in one connected component, as the linear system A x = b, x >= 0, where x are
    the component's atoms. Rows are the shown cells (x summed = value) and the equalities (sum A - sum B
    = 0); `owners[i]` is the key of the shown cell behind row i, or None for an equality."""

    def __init__(self, atoms: Sequence[Hashable], shown: Iterable[Cell], equalities: Iterable[Equality]):
        self.index = {atom: i for i, atom in enumerate(atoms)}
        rows, cols, data, rhs, owners = [], [], [], [], []
        for cell in shown:
            for atom in cell.atoms:
                rows.append(len(rhs))
                cols.append(self.index[atom])
                data.append(1.0)
            rhs.append(float(cell.value))
            owners.append(cell.key)
        for left, right in equalities:
            coefficients: dict[Hashable, float] = defaultdict(float)
            for atom in left:
                coefficients[atom] += 1.0
            for atom in right:
                coefficients[atom] -= 1.0
            terms = [(atom, c) for atom, c in coefficients.items() if c]
            if not terms:
                continue
            for atom, c in terms:
                rows.append(len(rhs))
                cols.append(self.index[atom])
                data.append(c)
            rhs.append(0.0)
            owners.append(None)
        self.owners = owners
        self.size = len(atoms)
        self.matrix = csr_matrix((data, (rows, cols)), shape=(len(rhs), self.size)) if rhs else None
        self.rhs = np.array(rhs)

    def _solve(self, objective: np.ndarray):
        res = linprog(
            objective,
            A_eq=self.matrix,
            b_eq=self.rhs if self.matrix is not None else None,
            bounds=(0, None),
            method="highs",
        )
        if res.status == 2:
            raise ValueError("The figures contradict each other: no non-negative counts add up to them.")
        if res.status == 3:
            return None, None
        if res.status != 0:
            raise RuntimeError(f"The linear-programming audit failed: {res.message}")
        marginals = res.eqlin.marginals if self.matrix is not None else np.zeros(0)
        return float(res.fun), marginals

    def feasible(self) -> None:
        self._solve(np.zeros(self.size))

    def interval(self, cell: Cell, *, enough: float | None = None) -> tuple[float, float, set]:
        """(min, max) of the cell's value over every non-negative solution, and the keys of the shown
        cells that bind it (non-zero dual values: the figures an attacker adds and subtracts to get
        the bounds). With `enough`, stop early once the interval is known to be at least that wide."""
        objective = np.zeros(self.size)
        for atom in cell.atoms:
            objective[self.index[atom]] = 1.0
        binding: set = set()
        neg_max, marginals = self._solve(-objective)
        high = float("inf") if neg_max is None else -neg_max
        if marginals is not None:
            binding |= self._binding(marginals)
        if enough is not None and high >= cell.value + enough - _EPS:
            return 0.0, high, binding
        low, marginals = self._solve(objective)
        low = max(low, 0.0)
        binding |= self._binding(marginals)
        return low, high, binding

    def _binding(self, marginals: np.ndarray) -> set:
        return {self.owners[i] for i in np.flatnonzero(np.abs(marginals) > _DUAL_EPS) if self.owners[i] is not None}


def _components(cells: Sequence[Cell], equalities: Sequence[Equality]) -> list[tuple[list[Hashable], list[Cell]]]:
    """Cells linked by shared atoms or by an equality, each group with its atoms (a hidden figure can only
    be worked out from figures in its own group)."""
    parent: dict[Hashable, Hashable] = {}

    def find(atom):
        parent.setdefault(atom, atom)
        while parent[atom] != atom:
            parent[atom] = parent[parent[atom]]
            atom = parent[atom]
        return atom

    def join(atoms):
        atoms = list(atoms)
        for atom in atoms:
            find(atom)
        for atom in atoms[1:]:
            parent[find(atom)] = find(atoms[0])

    for cell in cells:
        join(cell.atoms)
    for left, right in equalities:
        join(left | right)
    atoms_of: dict[Hashable, list] = defaultdict(list)
    for atom in list(parent):
        atoms_of[find(atom)].append(atom)
    cells_of: dict[Hashable, list] = defaultdict(list)
    for cell in cells:
        if cell.atoms:
            cells_of[find(next(iter(cell.atoms)))].append(cell)
    return [(atoms_of[root], cells_of[root]) for root in atoms_of]


def _equalities_by_component(equalities: Sequence[Equality], components) -> list[list[Equality]]:
    where = {atom: n for n, (atoms, _cells) in enumerate(components) for atom in atoms}
    grouped: list[list[Equality]] = [[] for _ in components]
    for left, right in equalities:
        atoms = left | right
        if atoms:
            grouped[where[next(iter(atoms))]].append((left, right))
    return grouped


def _check(cells: Sequence[Cell], fixed: Sequence[tuple[Cell, bool]], threshold: int) -> None:
    if threshold < 1:
        raise ValueError("The threshold must be at least 1.")
    keys = [cell.key for cell in cells] + [cell.key for cell, _shown in fixed]
    if len(set(keys)) != len(keys):
        raise ValueError("Every figure needs its own key.")
    for cell in [*cells, *(cell for cell, _shown in fixed)]:
        if cell.value < 0 or (not cell.atoms and cell.value):
            raise ValueError(f"Figure {cell.key!r} cannot be a count of its atoms.")


def _sort_key(cell: Cell) -> tuple:
    # Ties are broken on the caller's key, never on a position that could follow the values.
    return (cell.value, repr(cell.key))


def protect(
    cells: Sequence[Cell],
    *,
    threshold: int,
    fixed: Sequence[tuple[Cell, bool]] = (),
    equalities: Sequence[Equality] = (),
) -> dict[Hashable, int | None]:
    """Which of `cells` to publish: {key: value, or None when hidden}. `fixed` are figures published
    earlier that cannot change (Cell, shown?); `equalities` are facts an attacker knows without any
    publication (sum of atoms A == sum of atoms B, e.g. every encounter has exactly one contact mode and
    one initiator). Guarantee: afterwards, for every hidden cell (new or fixed), min..max of its value
    over all non-negative atom values consistent with every shown figure (new and fixed) and the
    equalities is at least `threshold` wide.

    Rules: every new cell with 0 < value < threshold is hidden (primary suppression). Then, for as long
    as the LP audit finds a hidden cell whose interval is too narrow, the smallest shown new cell among
    the figures that bind its bound is hidden too (complementary suppression; ties broken on the key,
    never on position). Zeros are never hidden (a zero protects nothing) and fixed figures never change.
    Hiding every new non-zero cell of a group always works unless fixed figures alone already pin a
    hidden cell; that case cannot be repaired by hiding new figures, is logged, and the new figures that
    bind it stay hidden.

    An attacker's inequalities are expressed with atoms that are never published: "a topic count is at
    most the encounter total" is the equality topic + without_topic == total."""
    cells = list(cells)
    fixed = list(fixed)
    equalities = [(frozenset(left), frozenset(right)) for left, right in equalities]
    _check(cells, fixed, threshold)
    new_keys = {cell.key for cell in cells}
    hidden = {cell.key for cell in cells if 0 < cell.value < threshold}
    hidden |= {cell.key for cell, shown in fixed if not shown}

    every = cells + [cell for cell, _shown in fixed]
    components = _components(every, equalities)
    for (atoms, group), group_equalities in zip(
        components, _equalities_by_component(equalities, components), strict=True
    ):
        _Constraints(atoms, group, group_equalities).feasible()  # all true values together: consistent input
        by_key = {cell.key: cell for cell in group}
        pending = sorted((cell for cell in group if cell.key in hidden), key=_sort_key)
        while pending:
            system = _Constraints(atoms, [c for c in group if c.key not in hidden], group_equalities)
            complements: set = set()
            still_weak = []
            for cell in pending:
                low, high, binding = system.interval(cell, enough=threshold)
                if high - low >= threshold - _EPS:
                    continue  # hiding more later only widens it
                candidates = [
                    by_key[key] for key in binding if key in new_keys and key not in hidden and by_key[key].value > 0
                ]
                if not candidates:
                    # The bound rests on fixed figures, equalities and zeros only: no new figure can widen it.
                    logger.warning("Suppression: fixed figures already narrow hidden figure %r", cell.key)
                    continue
                complements.add(min(candidates, key=_sort_key).key)
                still_weak.append(cell)
            hidden |= complements
            pending = still_weak + sorted((by_key[key] for key in complements), key=_sort_key)
    return {cell.key: None if cell.key in hidden else cell.value for cell in cells}


def audit(
    cells: Sequence[tuple[Cell, bool]], *, equalities: Sequence[Equality] = ()
) -> dict[Hashable, tuple[float, float]]:
    """The LP audit (tau-ARGUS style): for each hidden cell, (min, max) of its value under all shown
    figures and equalities, atoms >= 0, solved with scipy.optimize.linprog(method="highs"). A max of
    inf means nothing published bounds the cell from above."""
    equalities = [(frozenset(left), frozenset(right)) for left, right in equalities]
    every = [cell for cell, _shown in cells]
    shown_keys = {cell.key for cell, shown in cells if shown}
    result = {}
    components = _components(every, equalities)
    for (atoms, group), group_equalities in zip(
        components, _equalities_by_component(equalities, components), strict=True
    ):
        system = _Constraints(atoms, [c for c in group if c.key in shown_keys], group_equalities)
        for cell in group:
            if cell.key not in shown_keys:
                low, high, _binding = system.interval(cell)
                result[cell.key] = (low, high)
    for cell, shown in cells:
        if not shown and not cell.atoms:
            result[cell.key] = (0.0, 0.0)
    return result


# --- The table helpers the dashboards use until published figures replace them -----------------------------


def suppress_table(rows: list[list[int]], threshold: int) -> list[list[int | None]]:
    """Hide cells from 1 to threshold-1, then complementary cells, so that with every row and column
    total published (those that are not themselves small) each hidden cell keeps a protection interval
    at least the threshold wide. Zeros are never complements; ties go by the cell's position, so rows
    must come in a fixed order (vocabulary order or label), never sorted by value."""
    height = len(rows)
    if height == 1:
        return [suppress_series(rows[0], threshold)]
    cells = [Cell(("cell", r, c), frozenset({(r, c)}), v) for r, row in enumerate(rows) for c, v in enumerate(row)]
    lines = [[(r, c) for c in range(len(row))] for r, row in enumerate(rows)]
    width = max((len(row) for row in rows), default=0)
    lines += [[(r, c) for r in range(height) if c < len(rows[r])] for c in range(width)]
    totals = []
    for n, line in enumerate(lines):
        if len(line) > 1:
            total = sum(rows[r][c] for r, c in line)
            totals.append((Cell(("total", n), frozenset(line), total), not 0 < total < threshold))
    shown = protect(cells, threshold=threshold, fixed=totals)
    return [[shown[("cell", r, c)] for c in range(len(row))] for r, row in enumerate(rows)]


def suppress_series(values: list[int], threshold: int) -> list[int | None]:
    """One row of counts that is shown with its total. Hidden cells can only be worked out through the
    total, so each of them lies anywhere between 0 and the sum of the hidden cells: hide the smallest
    non-zero cells (ties by position) until at least two are hidden and they add up to the threshold.
    When every non-zero cell is hidden and the sum is still short, the total is small and `line_total`
    hides it too."""
    hidden = {i for i, v in enumerate(values) if 0 < v < threshold}
    spare = sorted((v, i) for i, v in enumerate(values) if v > 0 and i not in hidden)
    while hidden and (len(hidden) < 2 or sum(values[i] for i in hidden) < threshold) and spare:
        hidden.add(spare.pop(0)[1])
    return [None if i in hidden else v for i, v in enumerate(values)]


def suppress_mapping(cells: dict[str, int], threshold: int) -> dict[str, int | None]:
    keys = list(cells)
    return dict(zip(keys, suppress_series([cells[k] for k in keys], threshold), strict=True))


def line_total(values: list[int | None], raw: list[int], threshold: int) -> int | None:
    """The total of a row or column, or None when it would give a value away: when exactly one cell
    of the line is hidden, or when the total itself is a small count."""
    total = sum(raw)
    if sum(1 for v in values if v is None) == 1 or 0 < total < threshold:
        return None
    return total
