"""The one CSV writer every export uses: text a spreadsheet would run as a formula is written as text.

A cell whose text starts with `=`, `+`, `-`, `@`, a tab, a carriage return or a line feed is
written with a leading apostrophe (OWASP's advice against CSV injection), so Excel, LibreOffice and
Google Sheets show it instead of evaluating it (`=HYPERLINK(...)`, `@SUM(...)`, `-2+3`). Only text
is neutralised: an int, float or Decimal the code itself passes stays a number, so a negative
figure (-3) a report computed is written as -3 and still adds up in a spreadsheet. A number typed
by a user always reaches here as text ("-3") and is escaped like any other text.

`tests/test_csv_exports.py` fails on any `csv.writer` / `csv.DictWriter` outside this module, so a
new export cannot bypass it.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

from django.http import StreamingHttpResponse

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def csv_cell(value: Any) -> str | int | float | Decimal:
    """One cell: None is empty, a number the code computed stays a number, other values become text
    with a leading apostrophe when a spreadsheet would read that text as a formula."""
    if value is None:
        return ""
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


class CsvWriter:
    """`csv.writer` with every cell passed through `csv_cell`."""

    def __init__(self, handle, **options) -> None:
        self._writer = csv.writer(handle, **options)

    def writerow(self, row: Iterable[Any]):
        """Writes the row; returns what the handle's `write` returned (the line itself, for `csv_lines`)."""
        return self._writer.writerow([csv_cell(value) for value in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(handle, **options) -> CsvWriter:
    """The writer for every CSV export: a file opened with newline="", or an HttpResponse."""
    return CsvWriter(handle, **options)


class _Line:
    """A handle whose `write` hands the text back instead of keeping it: the writer's row becomes its line."""

    def write(self, text: str) -> str:
        return text


def csv_lines(rows: Iterable[Iterable[Any]], **options) -> Iterator[str]:
    """Each row as one CSV line (cells through `csv_cell`, lines ending in CRLF as `csv.writer` ends them)."""
    writer = CsvWriter(_Line(), **options)
    for row in rows:
        yield writer.writerow(row)


def csv_response(rows: Iterable[Iterable[Any]], *, filename: str) -> StreamingHttpResponse:
    """A CSV download written as it is sent: `rows` (the header first) are turned into lines one at a time,
    so a large export never sits whole in memory as text. Byte for byte what `csv_writer(HttpResponse)` wrote."""
    response = StreamingHttpResponse(
        (line.encode("utf-8") for line in csv_lines(rows)), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
