"""Roster import from CSV: every row checked first; nothing is applied unless every row is good."""

from __future__ import annotations

import csv
import datetime
import io
import itertools
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction

from agencies.models import Agency, CertificationKind, Discipline, Membership, SupporterProfile
from agencies.roster import services
from agencies.selectors import supporters_of

COLUMNS = ["email", "designated_on", "availability", "languages", "certification", "certified_on", "expires_on"]
# Optional last column: disciplines served, separated by ";" (fire;ems). Without it, they are left as they are.
OPTIONAL_COLUMNS = ["disciplines"]
# Optionally after it: the certification's training hours (a state privilege profile may ask for a minimum).
HOURS_COLUMN = "hours"
MAX_ROWS = 2000


@dataclass
class PlannedRow:
    """One checked line, ready to apply: the profile's new values and the certification to add."""

    line: int
    membership: Membership
    profile: dict
    certification: dict | None


@dataclass
class ImportReport:
    applied: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line, message)


def _date(value: str, label: str) -> datetime.date | None:
    if not value:
        return None
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{label} must be a date like 2026-03-31") from None


def roster_import(*, actor, agency: Agency, content: bytes, request=None) -> ImportReport:
    report = ImportReport()
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        report.errors.append((0, "The file is not UTF-8 text; save it as CSV (UTF-8)."))
        return report
    # newline="": the csv module reads line breaks itself, so a lone CR inside a cell is data, not an error.
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = [c.strip().lower() for c in reader.fieldnames or []]
    except csv.Error as error:  # the first line itself cannot be read (a stray quote, an oversized cell)
        report.errors.append((1, f"This line cannot be read as CSV ({error})."))
        return report
    if header not in (COLUMNS, COLUMNS + OPTIONAL_COLUMNS, COLUMNS + OPTIONAL_COLUMNS + [HOURS_COLUMN]):
        report.errors.append(
            (
                1,
                "The first line must be exactly: "
                + ",".join(COLUMNS)
                + " (optionally followed by ,disciplines and then ,hours)",
            )
        )
        return report
    with_disciplines = header[: len(COLUMNS) + 1] == COLUMNS + OPTIONAL_COLUMNS
    with_hours = header[-1:] == [HOURS_COLUMN]
    members = {m.user.email.lower(): m for m in supporters_of(agency).select_related("user")}
    try:
        rows = list(itertools.islice(reader, MAX_ROWS + 1))
    except csv.Error as error:  # a cell over the csv module's size limit, a stray quote
        report.errors.append((reader.line_num, f"This line cannot be read as CSV ({error})."))
        return report
    planned = []
    for line, row in enumerate(rows, start=2):
        if line - 1 > MAX_ROWS:
            report.errors.append((line, f"At most {MAX_ROWS} rows per file."))
            break
        if None in row:  # DictReader keeps cells beyond the header under the key None
            report.errors.append((line, "this line has more cells than the first line has columns"))
            continue
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
        try:
            membership = members.get(row["email"].lower())
            if membership is None:
                raise ValueError("no peer supporter or coordinator of this agency has this e-mail")
            availability = row["availability"].lower() or SupporterProfile.Availability.AVAILABLE
            if availability not in SupporterProfile.Availability.values:
                raise ValueError("availability is available, unavailable or on_leave")
            designated_on = _date(row["designated_on"], "designated_on")
            certification = row["certification"].lower()
            if certification and certification not in CertificationKind.values:
                raise ValueError("certification is one of " + ", ".join(CertificationKind.values))
            certified_on = _date(row["certified_on"], "certified_on")
            expires_on = _date(row["expires_on"], "expires_on")
            if certification and certified_on is None:
                raise ValueError("a certification needs its certified_on date")
            languages = [part.strip() for part in row["languages"].split(";") if part.strip()][:10]
            extra = {}
            if with_disciplines:
                disciplines = [part.strip().lower() for part in row["disciplines"].split(";") if part.strip()]
                unknown = [d for d in disciplines if d not in Discipline.values]
                if unknown:
                    raise ValueError("disciplines are any of " + ", ".join(Discipline.values) + " separated by ;")
                extra["disciplines"] = sorted(set(disciplines))
            profile = {
                "designated_on": designated_on,
                "availability": availability,
                "on_leave_until": None,
                "languages": languages,
                **extra,
            }
            hours = row.get(HOURS_COLUMN, "") if with_hours else ""
            if hours and not (hours.isascii() and hours.isdigit() and int(hours) <= 1000):
                raise ValueError("hours is a whole number of training hours (0 to 1000), or empty")
            certificate = (
                {
                    "kind": certification,
                    "certified_on": certified_on,
                    "expires_on": expires_on,
                    "hours": int(hours or 0),
                }
                if certification
                else None
            )
            planned.append(PlannedRow(line=line, membership=membership, profile=profile, certification=certificate))
        except ValueError as error:
            report.errors.append((line, str(error)))
    if report.errors:
        return report
    try:
        with transaction.atomic():
            for row in planned:
                try:
                    services.profile_update(actor=actor, membership=row.membership, request=request, **row.profile)
                    if row.certification:
                        services.certification_add(
                            actor=actor, membership=row.membership, request=request, **row.certification
                        )
                except ValidationError as error:
                    report.errors.append((row.line, " ".join(error.messages)))
                    raise
                report.applied += 1
    except ValidationError:
        report.applied = 0
    return report
