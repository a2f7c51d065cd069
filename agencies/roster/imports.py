"""Roster import from CSV: every row checked first; nothing is applied unless every row is good."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction

from agencies.models import Agency, CertificationKind, Discipline, Membership, SupporterProfile
from agencies.roster import services
from agencies.selectors import supporters_of
from network.csvimport import ImportReport, csv_date, csv_import_rows

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


def roster_import(*, actor, agency: Agency, content: bytes, request=None) -> ImportReport:
    report = ImportReport()
    read = csv_import_rows(
        content,
        report,
        headers=[COLUMNS, COLUMNS + OPTIONAL_COLUMNS, COLUMNS + OPTIONAL_COLUMNS + [HOURS_COLUMN]],
        header_hint=",".join(COLUMNS) + " (optionally followed by ,disciplines and then ,hours)",
        max_rows=MAX_ROWS,
    )
    if read is None:
        return report
    header, rows = read
    with_disciplines = header[: len(COLUMNS) + 1] == COLUMNS + OPTIONAL_COLUMNS
    with_hours = header[-1:] == [HOURS_COLUMN]
    members = {m.user.email.lower(): m for m in supporters_of(agency).select_related("user")}
    planned = []
    for line, row in rows:
        try:
            membership = members.get(row["email"].lower())
            if membership is None:
                raise ValueError("no peer supporter or coordinator of this agency has this e-mail")
            availability = row["availability"].lower() or SupporterProfile.Availability.AVAILABLE
            if availability not in SupporterProfile.Availability.values:
                raise ValueError("availability is available, unavailable or on_leave")
            designated_on = csv_date(row["designated_on"], "designated_on")
            certification = row["certification"].lower()
            if certification and certification not in CertificationKind.values:
                raise ValueError("certification is one of " + ", ".join(CertificationKind.values))
            certified_on = csv_date(row["certified_on"], "certified_on")
            expires_on = csv_date(row["expires_on"], "expires_on")
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
