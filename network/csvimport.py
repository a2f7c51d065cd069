"""The one way an uploaded CSV file is read (the roster import, the referral directory import): decoded as UTF-8
(a byte-order mark allowed), its first line checked against the columns the import accepts, at most `max_rows`
lines read, each line's cells stripped and keyed by lower-case column. Problems go to an `ImportReport` by line
number, as the import pages show them, and the import applies nothing unless every line is good.
`network/csvexport.py` is the writing side."""

from __future__ import annotations

import csv
import datetime
import io
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class ImportReport:
    applied: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line, message)


def csv_import_rows(
    content: bytes, report: ImportReport, *, headers: Sequence[Sequence[str]], header_hint: str, max_rows: int
) -> tuple[list[str], list[tuple[int, dict[str, str]]]] | None:
    """The file's header (one of `headers`) and its lines as (line number, {column: cell}), or None with the
    reason in `report` when the file as a whole cannot be read. A line with more cells than the header is
    reported and left out; the caller reports its own per-cell problems with the line number."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        report.errors.append((0, "The file is not UTF-8 text; save it as CSV (UTF-8)."))
        return None
    # newline="": the csv module reads line breaks itself, so a lone CR inside a cell is data, not an error.
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = [c.strip().lower() for c in reader.fieldnames or []]
    except csv.Error as error:  # the first line itself cannot be read (a stray quote, an oversized cell)
        report.errors.append((1, f"This line cannot be read as CSV ({error})."))
        return None
    if header not in [list(h) for h in headers]:
        report.errors.append((1, "The first line must be exactly: " + header_hint))
        return None
    try:
        rows = list(itertools.islice(reader, max_rows + 1))
    except csv.Error as error:  # a cell over the csv module's size limit, a stray quote
        report.errors.append((reader.line_num, f"This line cannot be read as CSV ({error})."))
        return None
    lines = []
    for line, row in enumerate(rows, start=2):
        if line - 1 > max_rows:
            report.errors.append((line, f"At most {max_rows} rows per file."))
            break
        if None in row:  # DictReader keeps cells beyond the header under the key None
            report.errors.append((line, "this line has more cells than the first line has columns"))
            continue
        lines.append((line, {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}))
    return header, lines


def csv_date(value: str, label: str) -> datetime.date | None:
    """A cell holding an ISO date (2026-03-31), or None when empty; ValueError naming the column otherwise."""
    if not value:
        return None
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{label} must be a date like 2026-03-31") from None
