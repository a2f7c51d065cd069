"""Small-cell suppression: no published number small enough to point at a person, and no hidden
number recoverable from the totals beside it (../shared/DOMAIN.md, "Aggregate reporting")."""

from __future__ import annotations


def suppress_table(rows: list[list[int]], threshold: int) -> list[list[int | None]]:
    """Hide cells from 1 to threshold-1 (primary), then, while any row or column has exactly one
    hidden cell, hide the smallest other cell of that row or column (complementary). Row and column
    totals may be published: a hidden cell is never the only unknown in its row or column."""
    hidden = {(r, c) for r, row in enumerate(rows) for c, v in enumerate(row) if 0 < v < threshold}
    height, width = len(rows), max((len(row) for row in rows), default=0)
    changed = True
    while changed:
        changed = False
        lines = [[(r, c) for c in range(len(rows[r]))] for r in range(height)]
        lines += [[(r, c) for r in range(height) if c < len(rows[r])] for c in range(width)]
        for line in lines:
            inside = [cell for cell in line if cell in hidden]
            if len(inside) == 1:
                others = [cell for cell in line if cell not in hidden]
                if others:
                    hidden.add(min(others, key=lambda cell: (rows[cell[0]][cell[1]], cell)))
                    changed = True
    return [[None if (r, c) in hidden else v for c, v in enumerate(row)] for r, row in enumerate(rows)]


def suppress_series(values: list[int], threshold: int) -> list[int | None]:
    """One row of counts that is shown with its total."""
    return suppress_table([values], threshold)[0]


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
