"""The agency's readable export: its own records, decrypted, as CSV files with a README (offboarding).

The export is made of sections, one CSV file each. This app knows only its own (members,
certifications); the apps above it that keep agency records register theirs in their
AppConfig.ready() (encounters: encounters, follow-ups, disclosures; encounters/export.py), so the
tenancy app never reads another app's models (docs/decisions.md, "The readable export is a
registry of sections").
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from django.utils import timezone
from django_tenants.utils import tenant_context

from agencies.backup import Progress, file_sha256, file_stamp, staging_directory, staging_finish, writable_directory
from agencies.models import Agency, Certification, Membership
from network.audit import AuditAction, audit_record
from network.csvexport import csv_writer


@dataclass(frozen=True)
class ExportSection:
    """One CSV file of the export.

    `rows(agency)` yields one list per row, in `header`'s order; with `in_agency_schema` it runs
    inside the agency's schema (agency-schema tables), else in public. `readme` describes the file
    in README.txt, `{count}` standing for its number of rows; `label` names it in progress messages."""

    file_name: str
    label: str
    header: list[str]
    rows: Callable[[Agency], Iterable[list]]
    readme: str
    in_agency_schema: bool = False


_sections: dict[str, ExportSection] = {}


def export_section_register(section: ExportSection) -> None:
    """Add a section to every export (called from an AppConfig.ready(); registering a file name
    again replaces the earlier section)."""
    _sections[section.file_name] = section


def export_sections() -> list[ExportSection]:
    """The registered sections, agency-schema ones first, each side in the order registered."""
    return sorted(_sections.values(), key=lambda section: not section.in_agency_schema)


# --- Values ----------------------------------------------------------------------------------------


def _cell(value):
    """A value as the export writes it; the shared writer then neutralises formula-like text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, list | tuple):
        return "; ".join(str(item) for item in value)
    return value.isoformat() if hasattr(value, "isoformat") else value


def _write_csv(path: Path, header: list[str], rows: Iterable[list]) -> int:
    count = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv_writer(handle)
        writer.writerow(header)
        for row in rows:
            writer.writerow([_cell(value) for value in row])
            count += 1
    return count


def email_or_blank(user) -> str:
    """A user's e-mail for an export cell; blank where the user is gone (a null foreign key)."""
    return user.email if user is not None else ""


# --- This app's sections ---------------------------------------------------------------------------

MEMBER_HEADER = [
    "email", "full_name", "role", "active", "member_since_utc", "designated_on", "availability",
    "on_leave_until", "languages",
]  # fmt: skip
CERTIFICATION_HEADER = ["email", "full_name", "certification", "certified_on", "expires_on"]


def _member_rows(agency: Agency):
    memberships = Membership.objects.filter(agency=agency).select_related("user", "profile").order_by("user__email")
    for m in memberships:
        profile = getattr(m, "profile", None)
        yield [
            m.user.email, m.user.full_name, m.get_role_display(), m.is_active, m.created_at,
            profile.designated_on if profile else None, profile.get_availability_display() if profile else "",
            profile.on_leave_until if profile else None, profile.languages if profile else [],
        ]  # fmt: skip


def _certification_rows(agency: Agency):
    certifications = Certification.objects.filter(membership__agency=agency).select_related("membership__user")
    for c in certifications.order_by("membership__user__email", "kind", "certified_on"):
        user = c.membership.user
        yield [user.email, user.full_name, c.get_kind_display(), c.certified_on, c.expires_on]


MEMBERS = ExportSection(
    file_name="members.csv",
    label="members",
    header=MEMBER_HEADER,
    rows=_member_rows,
    readme="{count} memberships of the agency: name, e-mail, role, peer supporter\ndesignation and availability.",
)
CERTIFICATIONS = ExportSection(
    file_name="certifications.csv",
    label="certifications",
    header=CERTIFICATION_HEADER,
    rows=_certification_rows,
    readme="{count} training certifications of those members.",
)


# --- Writing it --------------------------------------------------------------------------------------

_README_HEAD = """\
Muster export of {name} ({slug})
Written {created} for the agency itself.

CONFIDENTIAL. These files hold decrypted peer support records, including free-text notes where
the network allowed them. Keep them only where your agency keeps its most confidential records,
share them with no one outside the peer support team's chain of confidentiality, and destroy
them under your records retention schedule.

Files (UTF-8 CSV, one header line; times are UTC; several values in one cell are separated by "; "):

"""
_README_TAIL = """\
  SHA256SUMS          checksums of the files above (check with: sha256sum -c SHA256SUMS).

A text cell that begins with = + - @, a tab or a line break is written with a leading apostrophe
so a spreadsheet shows it as text instead of running it as a formula.
"""
_README_INDENT = 22  # where a file's description starts, after "  <file name>"


def _readme_entry(section: ExportSection, count: int) -> str:
    first, *rest = section.readme.format(count=count).splitlines()
    lines = [f"  {section.file_name:<{_README_INDENT - 3}} {first}"]
    lines += [" " * _README_INDENT + line for line in rest]
    return "\n".join(lines) + "\n"


def agency_export(
    agency: Agency, directory: str | os.PathLike, *, actor=None, progress: Progress | None = None
) -> Path:
    """Write the agency's own records, decrypted, as CSV files with a README into a new directory
    inside `directory`; returns its path. For the agency only (offboarding): it holds plaintext notes."""
    say = progress or (lambda message: None)
    parent = writable_directory(directory)
    created = timezone.now()
    staging, final = staging_directory(parent, f"{agency.slug}-export-{file_stamp(created)}")
    try:
        entries = []
        for section in export_sections():
            say(f"Writing {section.label}")
            path = staging / section.file_name
            if section.in_agency_schema:
                with tenant_context(agency):
                    count = _write_csv(path, section.header, section.rows(agency))
            else:
                count = _write_csv(path, section.header, section.rows(agency))
            entries.append(_readme_entry(section, count))
        head = _README_HEAD.format(
            name=agency.name, slug=agency.slug, created=created.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        )
        (staging / "README.txt").write_text(head + "".join(entries) + _README_TAIL, encoding="utf-8")
        sums = "".join(f"{file_sha256(path)}  {path.name}\n" for path in sorted(staging.iterdir()))
        (staging / "SHA256SUMS").write_text(sums, encoding="utf-8")
        final = staging_finish(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    audit_record(action=AuditAction.AGENCY_EXPORT, actor=actor, agency=agency, obj=agency)
    say(f"Export written to {final}")
    return final
