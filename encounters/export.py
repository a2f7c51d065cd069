"""The encounter log's sections of the agency's readable export (agencies/export.py): encounters,
follow-ups and disclosures, decrypted. Registered in EncountersConfig.ready(); read inside the
agency's schema."""

from __future__ import annotations

from agencies.export import ExportSection, email_or_blank
from encounters.models import DisclosureRecord, Encounter, FollowUp, Referral

ENCOUNTER_HEADER = [
    "encounter_id", "occurred_on", "logged_at_utc", "author_email", "co_supporter_emails",
    "documentation_standard_version", "duration_band", "contact_mode", "initiator", "recipient_relation",
    "recipient_discipline", "role_class", "topics", "interventions", "visit_number",
    "confidentiality_notice_given", "escalation", "referral", "referred_to_email",
    "activation_id", "activation_name", "notes", "notes_purged_at_utc", "legal_hold",
]  # fmt: skip
FOLLOW_UP_HEADER = [
    "follow_up_id", "encounter_id", "owner_email", "due_on", "status", "outcome",
    "completed_at_utc", "reminded_at_utc", "escalated_at_utc", "created_at_utc",
]  # fmt: skip
DISCLOSURE_HEADER = [
    "disclosure_id", "encounter_id", "exception", "disclosed_at_utc", "notified",
    "written_notice_sent_on", "recorded_by_email", "created_at_utc",
]  # fmt: skip

REFERRAL_HEADER = [
    "referral_id", "encounter_id", "follow_up_id", "resource_id", "resource_name", "resource_kind", "need",
    "referred_by_email", "status", "status_changed_at_utc", "next_referral_id", "created_at_utc",
]  # fmt: skip


def _encounter_rows(agency):
    encounters = (
        Encounter.objects.select_related("author", "referred_to", "standard", "activation")
        .prefetch_related("co_supporters")
        .order_by("occurred_on", "created_at", "pk")
    )
    for e in encounters.iterator(chunk_size=500):
        yield [
            e.uuid, e.occurred_on, e.created_at, email_or_blank(e.author), [u.email for u in e.co_supporters.all()],
            e.standard.version, e.duration_band, e.contact_mode, e.initiator, e.recipient_relation,
            e.recipient_discipline, e.role_class, e.topics, e.interventions, e.visit_number,
            e.confidentiality_notice_given, e.escalation, e.referral, email_or_blank(e.referred_to),
            e.activation.uuid if e.activation else None, e.activation.name if e.activation else None,
            e.notes, e.notes_purged_at, e.legal_hold,
        ]  # fmt: skip


def _follow_up_rows(agency):
    for f in FollowUp.objects.select_related("encounter", "owner").order_by("due_on", "pk").iterator(chunk_size=500):
        yield [
            f.uuid, f.encounter.uuid, email_or_blank(f.owner), f.due_on, f.get_status_display(),
            f.get_outcome_display() if f.outcome else "", f.completed_at, f.reminded_at, f.escalated_at, f.created_at,
        ]  # fmt: skip


def _disclosure_rows(agency):
    records = DisclosureRecord.objects.select_related("encounter", "recorded_by").order_by("disclosed_at", "pk")
    for d in records.iterator(chunk_size=500):
        yield [
            d.uuid, d.encounter.uuid, d.get_exception_display(), d.disclosed_at,
            [DisclosureRecord.Notified(code).label for code in d.notified],
            d.written_notice_sent_on, email_or_blank(d.recorded_by), d.created_at,
        ]  # fmt: skip


def _referral_rows(agency):
    referrals = Referral.objects.select_related("encounter", "follow_up", "resource", "referred_by", "next_referral")
    for r in referrals.order_by("created_at", "pk").iterator(chunk_size=500):
        yield [
            r.uuid, r.encounter.uuid, r.follow_up.uuid, r.resource.uuid, r.resource.name, r.resource.kind, r.need,
            email_or_blank(r.referred_by), r.get_status_display(), r.status_changed_at,
            r.next_referral.uuid if r.next_referral else None, r.created_at,
        ]  # fmt: skip


SECTIONS = [
    ExportSection(
        file_name="encounters.csv",
        label="encounters",
        header=ENCOUNTER_HEADER,
        rows=_encounter_rows,
        readme="{count} support contacts. Codes (duration band, contact mode, topics,\n"
        "interventions, referral, ...) are those of the network's documentation\n"
        "standard, version in documentation_standard_version. notes is the decrypted\n"
        "free text; empty when none was written or after it was purged\n"
        "(notes_purged_at_utc). There is no field for the member's name.",
        in_agency_schema=True,
    ),
    ExportSection(
        file_name="follow_ups.csv",
        label="follow-ups",
        header=FOLLOW_UP_HEADER,
        rows=_follow_up_rows,
        readme="{count} follow-ups, linked to encounters.csv by encounter_id.",
        in_agency_schema=True,
    ),
    ExportSection(
        file_name="disclosures.csv",
        label="disclosures",
        header=DISCLOSURE_HEADER,
        rows=_disclosure_rows,
        readme="{count} disclosure records (confidentiality exceptions acted on),\nlinked by encounter_id.",
        in_agency_schema=True,
    ),
    ExportSection(
        file_name="referrals.csv",
        label="referrals",
        header=REFERRAL_HEADER,
        rows=_referral_rows,
        readme="{count} referrals to the network's resource directory, linked by encounter_id\n"
        "and follow_up_id; resource_id and resource_name name the directory entry.",
        in_agency_schema=True,
    ),
]
