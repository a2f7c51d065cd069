"""Every write to the network's agreements and protocols (the rules activations read are in selectors.py)."""

from __future__ import annotations

import datetime
import hashlib
import re
from collections.abc import Iterable, Sequence

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from agencies.models import Agency, Discipline, Membership, Role
from governance.models import (
    ActivationProtocol,
    Agreement,
    ProtocolStep,
    ResourceEntry,
    ResourceKind,
    ResourceMethod,
    ResourceSpecialty,
    Scope,
)
from network.audit import AuditAction, audit_record
from network.models import Network, NetworkRole, User
from network.notify import notify
from network.validators import CONTROL_CHARACTERS

DOCUMENT_MAX_BYTES = 10 * 1024 * 1024
# What a signed agreement may be: recognised by its first bytes, never by the name or the browser's word.
DOCUMENT_SIGNATURES = {
    b"%PDF-": ("application/pdf", ".pdf"),
    b"\x89PNG\r\n\x1a\n": ("image/png", ".png"),
    b"\xff\xd8\xff": ("image/jpeg", ".jpg"),
}
MAX_STEPS = 30
MAX_FOLLOW_UPS = 12
MAX_FOLLOW_UP_DAY = 730
MAX_STEP_HOURS = 24 * 365


# --- Agreements ---------------------------------------------------------------------------------------


def _document_type(head: bytes) -> str:
    for signature, (content_type, _suffix) in DOCUMENT_SIGNATURES.items():
        if head.startswith(signature):
            return content_type
    raise ValidationError({"document": "Attach the signed agreement as a PDF, PNG or JPEG file."})


def _read_document(document) -> tuple[bytes, str, str]:
    if document is None:
        raise ValidationError({"document": "Attach the signed agreement."})
    if document.size > DOCUMENT_MAX_BYTES:
        raise ValidationError({"document": "The file is larger than 10 MB; scan it at a lower resolution."})
    content = document.read()
    if not content:
        raise ValidationError({"document": "The file is empty."})
    name = (document.name or "agreement").rsplit("/", 1)[-1][:200]
    return content, name, _document_type(content[:8])


def _check_terms(*, network_wide: bool, parties: Sequence[Agency], scopes: Sequence[str], network: Network) -> None:
    errors: dict[str, str] = {}
    if not scopes or any(scope not in Scope.values for scope in scopes):
        errors["scopes"] = "Choose what the agreement covers."
    if not network_wide and len({agency.pk for agency in parties}) < 2:
        errors["parties"] = "Choose at least two agencies, or make it network-wide mutual aid."
    if any(agency.network_id != network.pk for agency in parties):
        errors["parties"] = "Every party must be an agency of this network."
    if errors:
        raise ValidationError(errors)


def agreement_record(
    *,
    actor: User,
    network: Network,
    title: str,
    network_wide: bool,
    parties: Sequence[Agency],
    scopes: Sequence[str],
    effective_on: datetime.date,
    expires_on: datetime.date | None,
    document,
    proposing_agency: Agency | None = None,
    request=None,
) -> Agreement:
    """Record a signed agreement. A state admin's is in force at once; one an agency admin records
    (`proposing_agency`, which must be a party) waits for a state admin's approval."""
    _check_terms(network_wide=network_wide, parties=parties, scopes=scopes, network=network)
    if expires_on is not None and expires_on < effective_on:
        raise ValidationError({"expires_on": "The agreement cannot expire before it takes effect."})
    if proposing_agency is not None:
        if network_wide:
            raise ValidationError({"network_wide": "Only a state admin records network-wide mutual aid."})
        if proposing_agency.pk not in {agency.pk for agency in parties}:
            raise ValidationError(
                {"parties": ValidationError("Your agency must be one of the parties.", code="own_agency_not_party")}
            )
    content, name, content_type = _read_document(document)
    now = timezone.now()
    with transaction.atomic():
        agreement = Agreement(
            network=network,
            title=title.strip(),
            network_wide=network_wide,
            scopes=sorted(set(scopes)),
            effective_on=effective_on,
            expires_on=expires_on,
            document=content,
            document_name=name,
            document_type=content_type,
            document_sha256=hashlib.sha256(content).hexdigest(),
            proposed_by=actor,
            proposed_at=now,
        )
        if proposing_agency is None:
            agreement.status = Agreement.Status.ACTIVE
            agreement.decided_by, agreement.decided_at = actor, now
        agreement.full_clean(exclude=["document"])
        agreement.save()
        if not network_wide:
            agreement.parties.set(parties)
        audit_record(
            action=AuditAction.AGREEMENT_PROPOSED if proposing_agency else AuditAction.AGREEMENT_RECORDED,
            actor=actor,
            agency=proposing_agency,
            obj=agreement,
            request=request,
        )
    return agreement


def agreement_decide(*, actor: User, agreement: Agreement, approve: bool, request=None) -> Agreement:
    with transaction.atomic():
        agreement = Agreement.objects.select_for_update().get(pk=agreement.pk)
        if agreement.status != Agreement.Status.PROPOSED:
            raise ValidationError("This agreement has already been decided.")
        agreement.status = Agreement.Status.ACTIVE if approve else Agreement.Status.DECLINED
        agreement.decided_by, agreement.decided_at = actor, timezone.now()
        agreement.save(update_fields=["status", "decided_by", "decided_at"])
        audit_record(action=AuditAction.AGREEMENT_DECIDED, actor=actor, obj=agreement, request=request)
    return agreement


def agreement_revoke(*, actor: User, agreement: Agreement, request=None) -> Agreement:
    """End an agreement now. Activations already joined keep their agencies; new joins are refused."""
    with transaction.atomic():
        agreement = Agreement.objects.select_for_update().get(pk=agreement.pk)
        if agreement.status != Agreement.Status.ACTIVE:
            raise ValidationError("Only an approved agreement can be revoked.")
        agreement.status = Agreement.Status.REVOKED
        agreement.decided_by, agreement.decided_at = actor, timezone.now()
        agreement.save(update_fields=["status", "decided_by", "decided_at"])
        audit_record(action=AuditAction.AGREEMENT_REVOKED, actor=actor, obj=agreement, request=request)
    return agreement


def _expiry_recipients(agreement: Agreement) -> list[str]:
    emails = set(
        NetworkRole.objects.filter(
            network=agreement.network, role=NetworkRole.Role.STATE_ADMIN, user__is_active=True
        ).values_list("user__email", flat=True)
    )
    if not agreement.network_wide:
        emails |= set(
            Membership.objects.filter(
                agency__in=agreement.parties.all(), role=Role.AGENCY_ADMIN, is_active=True, user__is_active=True
            ).values_list("user__email", flat=True)
        )
    return sorted(emails)


def agreements_expiry_notify(*, on: datetime.date | None = None) -> int:
    """Tell state admins and the parties' agency admins, once, that an agreement ends within 30 days."""
    on = on or timezone.localdate()
    sent = 0
    for agreement in Agreement.objects.expiring(on).filter(expiry_notice_sent_on__isnull=True):
        with transaction.atomic():
            locked = (
                Agreement.objects.select_for_update(skip_locked=True)
                .filter(pk=agreement.pk, expiry_notice_sent_on__isnull=True)
                .first()
            )
            if locked is None:
                continue
            recipients = _expiry_recipients(locked)
            locked.expiry_notice_sent_on = on
            locked.save(update_fields=["expiry_notice_sent_on"])
            context = {"title": locked.title, "days": locked.days_to_expiry(on), "expires_on": locked.expires_on}
            notify(recipients, "agreement_expiring", context)
            sent += 1
    return sent


# --- Activation protocols ----------------------------------------------------------------------------

_TIMING = re.compile(
    r"^(?:(?P<start>\d{1,5})\s*(?P<start_unit>[hd])\s*-\s*)?(?P<due>\d{1,5})\s*(?P<due_unit>[hd])\s+(?P<title>.+)$"
)


def _hours(number: str, unit: str) -> int:
    return int(number) * (24 if unit == "d" else 1)


def parse_steps(text: str) -> list[tuple[str, int, int]]:
    """Read checklist lines, `12h Defusing` or `1d-10d Debriefing (CISD)`, into (title, not before, due)
    in hours after the incident. Every problem names its line; nothing is half-read."""
    steps: list[tuple[str, int, int]] = []
    problems: list[tuple[int, str, str]] = []  # (line, code, what is wrong)
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        match = _TIMING.match(line)
        if not match:
            what = "start with when it is due, then the step, e.g. “12h Defusing” or “1d-10d Debriefing”."
            problems.append((number, "step_timing", what))
            continue
        title = match["title"].strip()
        due = _hours(match["due"], match["due_unit"])
        start = _hours(match["start"], match["start_unit"]) if match["start"] else 0
        if len(title) > ProtocolStep._meta.get_field("title").max_length:
            problems.append((number, "step_too_long", "the step is longer than 120 characters."))
        elif CONTROL_CHARACTERS.intersection(title):
            what = "keep each step to plain text (no tabs or control characters)."
            problems.append((number, "step_control_character", what))
        elif due > MAX_STEP_HOURS:
            problems.append((number, "step_too_late", "a step is due within a year of the incident at most."))
        elif start > due:
            problems.append((number, "step_window_reversed", "the window starts after it ends."))
        else:
            steps.append((title, start, due))
    errors = [
        ValidationError("Line %(line)s: " + what, code=code, params={"line": number}) for number, code, what in problems
    ]
    if len(steps) > MAX_STEPS:
        errors.append(ValidationError("At most %(max)s steps.", code="too_many_steps", params={"max": MAX_STEPS}))
    if errors:
        raise ValidationError(errors)
    return steps


def parse_follow_up_days(text: str) -> list[int]:
    """Read `7, 30, 90` into sorted distinct days after the incident."""
    parts = [part for part in re.split(r"[\s,;]+", text.strip()) if part]
    if not all(part.isascii() and part.isdigit() and len(part) <= 4 for part in parts):  # "²".isdigit() is true
        raise ValidationError("Write days as whole numbers separated by commas, e.g. 7, 30, 90.")
    days = sorted({int(part) for part in parts})
    if any(day < 1 or day > MAX_FOLLOW_UP_DAY for day in days):
        raise ValidationError(f"Each follow-up is 1 to {MAX_FOLLOW_UP_DAY} days after the incident.")
    if len(days) > MAX_FOLLOW_UPS:
        raise ValidationError(f"At most {MAX_FOLLOW_UPS} follow-ups.")
    return days


def protocol_save(
    *,
    actor: User,
    network: Network,
    incident_type: str,
    name: str,
    steps: Iterable[tuple[str, int, int]],
    follow_up_days: Sequence[int],
    text_wait_minutes: int = 10,
    call_wait_minutes: int = 10,
    request=None,
) -> ActivationProtocol:
    """Create or replace the protocol for one incident type. Open activations keep what they applied."""
    with transaction.atomic():
        protocol, _ = ActivationProtocol.objects.select_for_update().get_or_create(
            network=network,
            incident_type=incident_type,
            defaults={"name": name, "updated_by": actor},
        )
        protocol.name = name.strip()
        protocol.follow_up_days = list(follow_up_days)
        protocol.text_wait_minutes, protocol.call_wait_minutes = text_wait_minutes, call_wait_minutes
        protocol.updated_by, protocol.updated_at = actor, timezone.now()
        protocol.full_clean()
        protocol.save()
        protocol.steps.all().delete()
        ProtocolStep.objects.bulk_create(
            ProtocolStep(protocol=protocol, position=position, title=title, not_before_hours=start, due_hours=due)
            for position, (title, start, due) in enumerate(steps, start=1)
        )
        audit_record(action=AuditAction.PROTOCOL_SAVED, actor=actor, obj=protocol, request=request)
    return protocol


# --- The referral resource directory ------------------------------------------------------------------------

# The fields of an entry a caller sets; the rest (network, who changed it and when) is the service's.
RESOURCE_FIELDS = (
    "region",
    "kind",
    "name",
    "contact",
    "disciplines",
    "serves_family",
    "serves_retirees",
    "specialties",
    "methods",
    "first_responder_trained",
    "languages",
    "telehealth",
    "insurance",
    "eap_accepted",
    "accepting_new_clients",
    "wait_days",
    "confirmed_on",
    "vetted_by",
    "vetted_on",
    "vetted_until",
    "active",
)


def resource_keeper_regions(*, actor: User, network: Network) -> set[int] | None:
    """The regions whose entries `actor` keeps: None for a state admin (every entry, statewide ones too), the
    regions of their regional-coordinator roles otherwise (empty: keeps none)."""
    roles = NetworkRole.objects.filter(user=actor, network=network)
    if any(role.role == NetworkRole.Role.STATE_ADMIN for role in roles):
        return None
    return {role.region_id for role in roles if role.role == NetworkRole.Role.REGIONAL_COORDINATOR and role.region_id}


def _check_keeper(*, actor: User, network: Network, region_id: int | None) -> None:
    regions = resource_keeper_regions(actor=actor, network=network)
    if regions is not None and (region_id is None or region_id not in regions):
        raise ValidationError(
            {"region": ValidationError("Regional coordinators keep their own region's entries.", code="not_keeper")}
        )


def _check_resource(values: dict, network: Network) -> dict[str, str]:
    errors: dict[str, str] = {}
    today = timezone.localdate()
    if values["kind"] not in ResourceKind.values:
        errors["kind"] = "Choose what kind of resource it is."
    if values["region"] is not None and values["region"].network_id != network.pk:
        errors["region"] = "Choose a region of this network."
    if not set(values["disciplines"]) <= set(Discipline.values):
        errors["disciplines"] = "Choose from the listed disciplines."
    if not set(values["specialties"]) <= set(ResourceSpecialty.values):
        errors["specialties"] = "Choose from the listed specialties."
    if not set(values["methods"]) <= set(ResourceMethod.values):
        errors["methods"] = "Choose from the listed methods."
    if values["confirmed_on"] > today:
        errors["confirmed_on"] = "The date it was last confirmed cannot be in the future."
    if values["wait_days"] is not None and not 0 <= values["wait_days"] <= 730:
        errors["wait_days"] = "Waiting time is between 0 and 730 days."
    vetted_on, vetted_until = values["vetted_on"], values["vetted_until"]
    if vetted_on and vetted_on > today:
        errors["vetted_on"] = "The vetting date cannot be in the future."
    if vetted_on and vetted_until and vetted_until < vetted_on:
        errors["vetted_until"] = "Vetting cannot run out before it was done."
    if (vetted_on or vetted_until) and not values["vetted_by"]:
        errors["vetted_by"] = "Say who vetted the resource."
    return errors


def resource_save(
    *, actor: User, network: Network, entry: ResourceEntry | None = None, request=None, **values
) -> ResourceEntry:
    """Create an entry (`entry` None) or change one. Every field of RESOURCE_FIELDS is given; a regional
    coordinator may keep only entries of their region (before and after the change)."""
    unknown = sorted(set(values) - set(RESOURCE_FIELDS))
    if unknown:
        raise TypeError(f"resource_save() cannot set {', '.join(unknown)}.")
    values = {name: values.get(name) for name in RESOURCE_FIELDS}
    for name in ("disciplines", "specialties", "methods", "languages", "insurance"):
        values[name] = sorted({str(v).strip() for v in values[name] or [] if str(v).strip()})
    for name in ("contact", "vetted_by", "name"):
        values[name] = (values[name] or "").strip()
    values["active"] = True if values["active"] is None else values["active"]
    if entry is not None:
        _check_keeper(actor=actor, network=network, region_id=entry.region_id)
    _check_keeper(actor=actor, network=network, region_id=values["region"].pk if values["region"] else None)
    errors = _check_resource(values, network)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        entry = (
            ResourceEntry(network=network)
            if entry is None
            else ResourceEntry.objects.select_for_update().get(pk=entry.pk, network=network)
        )
        for name, value in values.items():
            setattr(entry, name, value)
        entry.updated_by = actor
        entry.updated_at = timezone.now()
        entry.full_clean()
        entry.save()
        audit_record(action=AuditAction.RESOURCE_SAVED, actor=actor, obj=entry, request=request)
    return entry


def resource_confirm(
    *,
    actor: User,
    entry: ResourceEntry,
    accepting_new_clients: bool,
    wait_days: int | None,
    request=None,
) -> ResourceEntry:
    """ "Still accurate": the availability as the provider confirmed it today."""
    _check_keeper(actor=actor, network=entry.network, region_id=entry.region_id)
    if wait_days is not None and not 0 <= wait_days <= 730:
        raise ValidationError({"wait_days": ValidationError("Waiting time is between 0 and 730 days.", code="wait")})
    with transaction.atomic():
        ResourceEntry.objects.filter(pk=entry.pk).update(
            accepting_new_clients=accepting_new_clients,
            wait_days=wait_days,
            confirmed_on=timezone.localdate(),
            updated_by=actor,
            updated_at=timezone.now(),
        )
        audit_record(action=AuditAction.RESOURCE_CONFIRMED, actor=actor, obj=entry, request=request)
    entry.refresh_from_db()
    return entry
