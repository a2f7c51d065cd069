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
from scipy.sparse import block_diag, csr_matrix

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
    """Everything shown in one connected group, as the linear system A x = b, x >= 0, where x are the
    group's atoms: one row per shown cell (its atoms add up to its value) and one per equality (sum A -
    sum B = 0).

    Before any LP, atoms that the rows fix outright are substituted (a shown single-atom cell, a row
    with one unknown left, a zero row of same-signed unknowns), remembering which shown figures fixed
    each one; the rows left, over atoms still unknown, fall apart into small independent blocks, and
    each interval is solved on the blocks its atoms touch."""

    def __init__(self, shown: Iterable[Cell], equalities: Iterable[Equality]):
        rows: list[tuple[dict[Hashable, float], float, frozenset]] = []
        for cell in shown:
            rows.append(({atom: 1.0 for atom in cell.atoms}, float(cell.value), frozenset({cell.key})))
        for left, right in equalities:
            terms: dict[Hashable, float] = defaultdict(float)
            for atom in left:
                terms[atom] += 1.0
            for atom in right:
                terms[atom] -= 1.0
            terms = {atom: c for atom, c in terms.items() if c}
            if terms:
                rows.append((terms, 0.0, frozenset()))  # an equality is known anyway: nothing to hide
        self.pinned: dict[Hashable, float] = {}
        self.why: dict[Hashable, frozenset] = {}  # the shown figures that fix a pinned atom
        self._presolve(rows)

    def _reduced(self, row):
        terms, rhs, owners = row
        free = {}
        for atom, c in terms.items():
            if atom in self.pinned:
                rhs -= c * self.pinned[atom]
                owners = owners | self.why[atom]
            else:
                free[atom] = c
        return free, rhs, owners

    def _presolve(self, rows) -> None:
        rows_of: dict[Hashable, list[int]] = defaultdict(list)
        for i, (terms, _rhs, _owners) in enumerate(rows):
            for atom in terms:
                rows_of[atom].append(i)
        work, done = list(range(len(rows))), set()
        while work:
            i = work.pop()
            if i in done:
                continue
            free, rhs, owners = self._reduced(rows[i])
            if not free:
                if abs(rhs) > _EPS:
                    raise ValueError("The figures contradict each other: no non-negative counts add up to them.")
                done.add(i)
                continue
            signs = {c > 0 for c in free.values()}
            if len(free) == 1:
                ((atom, c),) = free.items()
                values = {atom: rhs / c}
            elif len(signs) == 1 and abs(rhs) <= _EPS:
                values = dict.fromkeys(free, 0.0)  # non-negative unknowns adding up to zero
            else:
                continue
            if any(v < -_EPS for v in values.values()) or (len(signs) == 1 and rhs * next(iter(free.values())) < -_EPS):
                raise ValueError("The figures contradict each other: no non-negative counts add up to them.")
            done.add(i)
            for atom, value in values.items():
                self.pinned[atom] = max(value, 0.0)
                self.why[atom] = owners
                work.extend(rows_of[atom])
        left = [self._reduced(rows[i]) for i in range(len(rows)) if i not in done]
        left = [row for row in left if row[0]]
        # Blocks: the unknown atoms linked by the rows left.
        links = _Links()
        for free, _rhs, _owners in left:
            links.join(free)
        grouped: dict[Hashable, list] = defaultdict(list)
        for row in left:
            grouped[links.find(next(iter(row[0])))].append(row)
        self.block_of: dict[Hashable, _Block] = {}
        for block_rows in grouped.values():
            block = _Block(block_rows)
            for atom in block.index:
                self.block_of[atom] = block

    def feasible(self) -> None:
        for block in set(self.block_of.values()):
            block.solve({})

    def _touched(self, cell: Cell) -> tuple[float, set, dict | None]:
        """The cell's pinned part, the figures that pinned it, and its unknown atoms by block (None when
        one of them is in no row left, so that nothing bounds the cell from above)."""
        base, binding = 0.0, set()
        blocks: dict[_Block, list] | None = defaultdict(list)
        for atom in cell.atoms:
            if atom in self.pinned:
                base += self.pinned[atom]
                binding |= self.why[atom]
            elif atom not in self.block_of:
                blocks = None
            elif blocks is not None:
                blocks[self.block_of[atom]].append(atom)
        return base, binding, blocks

    def width(self, cell: Cell) -> tuple[float, set]:
        """max - min of the cell's value over every non-negative solution, and the keys of the shown
        cells behind the bounds (rows with non-zero dual values, and the figures that fixed the atoms in
        them and in the cell: what an attacker adds and subtracts). One LP per block the cell touches."""
        _base, binding, blocks = self._touched(cell)
        if blocks is None:
            return float("inf"), binding
        total = 0.0
        for block, atoms in blocks.items():
            spread, rows = block.spread(atoms)
            total += spread
            binding |= rows
        return total, binding

    def interval(self, cell: Cell) -> tuple[float, float]:
        """(min, max) of the cell's value over every non-negative solution (max inf when unbounded)."""
        base, _binding, blocks = self._touched(cell)
        low, high = base, base
        if blocks is None:
            high = float("inf")
            blocks = defaultdict(list)
            for atom in cell.atoms:
                if atom in self.block_of:
                    blocks[self.block_of[atom]].append(atom)
        for block, atoms in blocks.items():
            value, _rows = block.solve(dict.fromkeys(atoms, 1.0))
            low += max(value, 0.0)
            value, _rows = block.solve(dict.fromkeys(atoms, -1.0))
            high = float("inf") if value is None else high - value
        return low, high


class _Block:
    """Rows over unknown atoms that share no atom with any other block: one small LP."""

    def __init__(self, rows):
        self.index: dict[Hashable, int] = {}
        data, row_ids, col_ids, rhs = [], [], [], []
        for i, (free, value, _owners) in enumerate(rows):
            for atom, c in free.items():
                data.append(c)
                row_ids.append(i)
                col_ids.append(self.index.setdefault(atom, len(self.index)))
            rhs.append(value)
        self.owners = [owners for _free, _value, owners in rows]
        self.matrix = csr_matrix((data, (row_ids, col_ids)), shape=(len(rows), len(self.index)))
        self.rhs = np.array(rhs)
        self._pair = None  # the block twice, for `spread`

    def spread(self, atoms: list) -> tuple[float, set]:
        """max - min of the atoms' sum in one LP over two copies of the block (one pushed up, one down):
        one solver call instead of two. Returns the width (inf when unbounded) and the figures behind it."""
        if self._pair is None:
            self._pair = block_diag([self.matrix, self.matrix], format="csr")
        size = len(self.index)
        c = np.zeros(2 * size)
        for atom in atoms:
            c[self.index[atom]] = -1.0
            c[size + self.index[atom]] = 1.0
        res = linprog(c, A_eq=self._pair, b_eq=np.concatenate([self.rhs, self.rhs]), bounds=(0, None), method="highs")
        if res.status == 3:
            return float("inf"), set()
        if res.status != 0:
            raise RuntimeError(f"The linear-programming audit failed: {res.message}")
        binding: set = set()
        rows = len(self.owners)
        for i in np.flatnonzero(np.abs(res.eqlin.marginals) > _DUAL_EPS):
            binding |= self.owners[i % rows]
        return -float(res.fun), binding

    def solve(self, objective: dict[Hashable, float]) -> tuple[float | None, set]:
        """The LP minimum of the objective (None when unbounded below) and the figures behind it."""
        c = np.zeros(len(self.index))
        for atom, weight in objective.items():
            c[self.index[atom]] = weight
        res = linprog(c, A_eq=self.matrix, b_eq=self.rhs, bounds=(0, None), method="highs")
        if res.status == 2:
            raise ValueError("The figures contradict each other: no non-negative counts add up to them.")
        if res.status == 3:
            return None, set()
        if res.status != 0:
            raise RuntimeError(f"The linear-programming audit failed: {res.message}")
        binding: set = set()
        for i in np.flatnonzero(np.abs(res.eqlin.marginals) > _DUAL_EPS):
            binding |= self.owners[i]
        return float(res.fun), binding


class _Links:
    """Union-find over atoms: which atoms some figure or equality ties together."""

    def __init__(self) -> None:
        self.parent: dict[Hashable, Hashable] = {}

    def find(self, atom: Hashable) -> Hashable:
        parent = self.parent
        parent.setdefault(atom, atom)
        while parent[atom] != atom:
            parent[atom] = parent[parent[atom]]
            atom = parent[atom]
        return atom

    def join(self, atoms: Iterable[Hashable]) -> None:
        atoms = list(atoms)
        for atom in atoms:
            self.find(atom)
        for atom in atoms[1:]:
            self.parent[self.find(atom)] = self.find(atoms[0])


def _groups(cells: Sequence[Cell], equalities: Sequence[Equality]) -> list[tuple[list[Cell], list[Equality]]]:
    """Cells linked by shared atoms or by an equality, with their equalities: a hidden figure can only be
    worked out from figures in its own group, so each group is solved on its own."""
    links = _Links()
    for cell in cells:
        links.join(cell.atoms)
    for left, right in equalities:
        links.join(left | right)
    groups: dict[Hashable, tuple[list, list]] = defaultdict(lambda: ([], []))
    for cell in cells:
        if cell.atoms:
            groups[links.find(next(iter(cell.atoms)))][0].append(cell)
    for left, right in equalities:
        if left | right:
            groups[links.find(next(iter(left | right)))][1].append((left, right))
    return list(groups.values())


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


class _Covers:
    """Which cells may serve as complements: new ones, never zeros, and never one whose value the fixed
    figures (with the equalities and the zeros, which stay shown) already pin to a range narrower than the
    threshold: hiding it would protect nothing and leave a hidden figure that no one can protect."""

    def __init__(self, group: list[Cell], new_keys: set, fixed_shown: set, equalities, threshold: int):
        self.new_keys, self.threshold = new_keys, threshold
        known = [c for c in group if c.key in fixed_shown or (c.key in new_keys and c.value == 0)]
        self.base = _Constraints(known, equalities) if any(c.key in fixed_shown for c in known) else None
        self.cache: dict[Hashable, bool] = {}

    def can(self, cell: Cell) -> bool:
        if cell.key not in self.new_keys or cell.value <= 0:
            return False
        if self.base is None:
            return True  # only zeros and equalities stay: every non-zero cell can move without bound
        if cell.key not in self.cache:
            self.cache[cell.key] = self.base.width(cell)[0] >= self.threshold - _EPS
        return self.cache[cell.key]


def _lines_covered(group: list[Cell], hidden: set, covers: _Covers) -> set:
    """A quick first pass that the LP loop then checks: a shown figure whose atoms each have a figure
    of their own is a line with its total, and its hidden atoms add up to a known amount that bounds
    each of them. So such a line needs two hidden cells or none, adding up to the threshold or more:
    the smallest shown non-zero new cells of the line are hidden until it does. Both conditions are
    necessary while the line's total is shown, so this saves LP rounds without hiding more."""
    alone: dict[Hashable, Cell] = {}
    for cell in sorted(group, key=lambda c: (c.key not in covers.new_keys, repr(c.key))):
        if len(cell.atoms) == 1:
            alone.setdefault(next(iter(cell.atoms)), cell)
    lines = [
        [alone[atom] for atom in cell.atoms]
        for cell in group
        if len(cell.atoms) > 1 and cell.key not in hidden and all(atom in alone for atom in cell.atoms)
    ]
    added: set = set()
    changed = True
    while changed:
        changed = False
        for members in lines:
            inside = [c for c in members if c.key in hidden or c.key in added]
            if not inside or (len(inside) >= 2 and sum(c.value for c in inside) >= covers.threshold):
                continue
            spare = [c for c in members if c.key not in hidden | added and covers.can(c)]
            if spare:
                added.add(min(spare, key=_sort_key).key)
                changed = True
    return added


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
    never on position). Zeros are never hidden (a zero protects nothing), nor is a cell the fixed
    figures already pin (hiding it protects nothing either), and fixed figures never change.
    Hiding every new non-zero cell of a group always works unless fixed figures alone already pin a
    hidden cell; that case cannot be repaired by hiding new figures, and is logged (with the key).

    An attacker's inequalities are expressed with atoms that are never published: "a topic count is at
    most the encounter total" is the equality topic + without_topic == total."""
    cells = list(cells)
    fixed = list(fixed)
    equalities = [(frozenset(left), frozenset(right)) for left, right in equalities]
    _check(cells, fixed, threshold)
    new_keys = {cell.key for cell in cells}
    hidden = {cell.key for cell in cells if 0 < cell.value < threshold}
    hidden |= {cell.key for cell, shown in fixed if not shown}
    fixed_shown = {cell.key for cell, shown in fixed if shown}

    for group, group_equalities in _groups(cells + [cell for cell, _shown in fixed], equalities):
        _Constraints(group, group_equalities).feasible()  # all true values together: consistent input
        by_key = {cell.key: cell for cell in group}
        covers = _Covers(group, new_keys, fixed_shown, group_equalities, threshold)
        hidden |= _lines_covered(group, hidden, covers)
        pending = sorted((cell for cell in group if cell.key in hidden), key=_sort_key)
        while pending:
            system = _Constraints([c for c in group if c.key not in hidden], group_equalities)
            complements: set = set()
            still_weak = []
            for cell in pending:
                width, binding = system.width(cell)
                if width >= threshold - _EPS:
                    continue  # hiding more later only widens it
                candidates = [by_key[key] for key in binding if key not in hidden and covers.can(by_key[key])]
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
    shown_keys = {cell.key for cell, shown in cells if shown}
    result = {}
    for group, group_equalities in _groups([cell for cell, _shown in cells], equalities):
        system = _Constraints([c for c in group if c.key in shown_keys], group_equalities)
        for cell in group:
            if cell.key not in shown_keys:
                result[cell.key] = system.interval(cell)
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
