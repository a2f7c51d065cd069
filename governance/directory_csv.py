"""The referral directory as CSV: export every entry, import a file checked whole (nothing is applied unless
every line is good; problems listed by line, as the roster import does)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from agencies.models import Discipline
from governance import services
from governance.models import ResourceEntry, ResourceKind, ResourceMethod, ResourceSpecialty
from network.audit import AuditAction, audit_record
from network.csvimport import ImportReport, csv_date, csv_import_rows
from network.models import Network, Region

# `id` is the entry's uuid: empty adds an entry, an id of this network's directory changes that entry.
COLUMNS = [
    "id",
    "kind",
    "name",
    "contact",
    "region",
    "disciplines",
    "family",
    "retirees",
    "specialties",
    "methods",
    "first_responder_trained",
    "languages",
    "telehealth",
    "insurance",
    "eap",
    "accepting",
    "wait_days",
    "confirmed_on",
    "vetted_by",
    "vetted_on",
    "vetted_until",
    "active",
]
MAX_ROWS = 2000
YES, NO = {"yes", "y", "true", "1"}, {"no", "n", "false", "0", ""}


def _yes(value: str, label: str) -> bool:
    value = value.lower()
    if value in YES:
        return True
    if value in NO:
        return False
    raise ValueError(f"{label} is yes or no")


def _codes(value: str, allowed: list[str], label: str) -> list[str]:
    codes = [part.strip().lower() for part in value.split(";") if part.strip()]
    if not set(codes) <= set(allowed):
        raise ValueError(f"{label} are any of {', '.join(allowed)} separated by ;")
    return codes


def _texts(value: str, limit: int) -> list[str]:
    return [part.strip()[:limit] for part in value.split(";") if part.strip()][:20]


def export_rows(entries) -> list[list]:
    """The header and one row per entry, in the columns the import reads."""

    def yes(value: bool) -> str:
        return "yes" if value else "no"

    rows: list[list] = [COLUMNS]
    for e in entries:
        rows.append(
            [
                str(e.uuid),
                e.kind,
                e.name,
                e.contact,
                e.region.slug if e.region else "",
                ";".join(e.disciplines),
                yes(e.serves_family),
                yes(e.serves_retirees),
                ";".join(e.specialties),
                ";".join(e.methods),
                yes(e.first_responder_trained),
                ";".join(e.languages),
                yes(e.telehealth),
                ";".join(e.insurance),
                yes(e.eap_accepted),
                yes(e.accepting_new_clients),
                "" if e.wait_days is None else e.wait_days,
                e.confirmed_on.isoformat(),
                e.vetted_by,
                e.vetted_on.isoformat() if e.vetted_on else "",
                e.vetted_until.isoformat() if e.vetted_until else "",
                yes(e.active),
            ]
        )
    return rows


def _parse_row(row: dict, regions: dict[str, Region], existing: dict[str, ResourceEntry]) -> tuple:
    entry = None
    if row["id"]:
        entry = existing.get(row["id"].lower())
        if entry is None:
            raise ValueError("no entry of this directory has this id (leave id empty to add one)")
    region = None
    if row["region"]:
        region = regions.get(row["region"].lower())
        if region is None:
            raise ValueError("region is the slug of one of the network's regions: " + ", ".join(sorted(regions)))
    kind = row["kind"].lower()
    if kind not in ResourceKind.values:
        raise ValueError("kind is one of " + ", ".join(ResourceKind.values))
    if not row["name"]:
        raise ValueError("name is required")
    wait = row["wait_days"]
    if wait and not (wait.isascii() and wait.isdigit()):
        raise ValueError("wait_days is a whole number of days, or empty when unknown")
    confirmed_on = csv_date(row["confirmed_on"], "confirmed_on")
    if confirmed_on is None:
        raise ValueError("confirmed_on is required: the date the availability was last confirmed")
    values = {
        "kind": kind,
        "name": row["name"][:200],
        "contact": row["contact"][:300],
        "region": region,
        "disciplines": _codes(row["disciplines"], Discipline.values, "disciplines"),
        "serves_family": _yes(row["family"], "family"),
        "serves_retirees": _yes(row["retirees"], "retirees"),
        "specialties": _codes(row["specialties"], ResourceSpecialty.values, "specialties"),
        "methods": _codes(row["methods"], ResourceMethod.values, "methods"),
        "first_responder_trained": _yes(row["first_responder_trained"], "first_responder_trained"),
        "languages": _texts(row["languages"], 40),
        "telehealth": _yes(row["telehealth"], "telehealth"),
        "insurance": _texts(row["insurance"], 60),
        "eap_accepted": _yes(row["eap"], "eap"),
        "accepting_new_clients": _yes(row["accepting"], "accepting"),
        "wait_days": int(wait) if wait else None,
        "confirmed_on": confirmed_on,
        "vetted_by": row["vetted_by"][:200],
        "vetted_on": csv_date(row["vetted_on"], "vetted_on"),
        "vetted_until": csv_date(row["vetted_until"], "vetted_until"),
        "active": _yes(row["active"] or "yes", "active"),
    }
    return entry, values


def directory_import(*, actor, network: Network, content: bytes, request=None) -> ImportReport:
    report = ImportReport()
    read = csv_import_rows(content, report, headers=[COLUMNS], header_hint=",".join(COLUMNS), max_rows=MAX_ROWS)
    if read is None:
        return report
    _header, rows = read
    regions = {r.slug: r for r in Region.objects.filter(network=network)}
    existing = {str(e.uuid): e for e in ResourceEntry.objects.filter(network=network)}
    planned = []
    for line, row in rows:
        try:
            planned.append((line, *_parse_row(row, regions, existing)))
        except ValueError as error:
            report.errors.append((line, str(error)))
    if report.errors:
        return report
    try:
        with transaction.atomic():
            for line, entry, values in planned:
                try:
                    services.resource_save(actor=actor, network=network, entry=entry, request=request, **values)
                except ValidationError as error:
                    report.errors.append((line, " ".join(error.messages)))
                    raise
                report.applied += 1
            audit_record(
                action=AuditAction.RESOURCE_IMPORTED,
                actor=actor,
                object_type="governance.resourceentry",
                object_id=report.applied,
                request=request,
            )
    except ValidationError:
        report.applied = 0
    return report
