"""Every write to members' requests: the request address, asking, assigning, contact, closing, escalation and the
destruction of contact details. Audit rows carry ids only, and a member's own actions are recorded without
their address (no source IP): docs/members.md."""

from __future__ import annotations

import datetime
import re
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac

from agencies.crypto import data_keys_destroy
from agencies.models import Agency, Membership
from members import selectors
from members.models import MemberRequest, RequestAddress
from network.audit import AuditAction, audit_record
from network.models import NetworkRole
from network.notify import notify

TOKEN_BYTES = 9  # 12 URL-safe characters: 72 bits, short enough to type from a poster


class RequestError:
    NOT_OPEN = "request_not_open"
    NOT_READY = "supporter_not_ready"
    NO_CONTACT = "contact_missing"


# --- The request address -------------------------------------------------------------------------------------


def address_ensure(*, agency: Agency) -> RequestAddress:
    """The agency's request address, made on first use."""
    address = selectors.address_of(agency)
    if address is None:
        address, _created = RequestAddress.objects.get_or_create(
            agency=agency, defaults={"token": secrets.token_urlsafe(TOKEN_BYTES)}
        )
    return address


def address_rotate(*, actor, agency: Agency, request=None) -> RequestAddress:
    """A new address: the old one (and every poster of it) leads to the neutral page from now on."""
    with transaction.atomic():
        address = address_ensure(agency=agency)
        address.token = secrets.token_urlsafe(TOKEN_BYTES)
        address.rotated_at = timezone.now()
        address.save(update_fields=["token", "rotated_at"])
        audit_record(
            action=AuditAction.REQUEST_ADDRESS_ROTATED, actor=actor, agency=agency, obj=address, request=request
        )
    return address


# --- Asking ----------------------------------------------------------------------------------------------------


def normalize_contact(kind: str, contact: str) -> str:
    """One spelling per contact: an e-mail address in lower case, a phone number as its digits (a leading 1 of
    a North American number dropped), so "(555) 010-0199" and "555.010.0199" fold together."""
    contact = (contact or "").strip()
    if kind == MemberRequest.ContactKind.EMAIL:
        return contact.lower()
    digits = re.sub(r"\D", "", contact)
    return digits[1:] if len(digits) == 11 and digits.startswith("1") else digits


def contact_digest(agency: Agency, kind: str, contact: str) -> str:
    """Keyed hash of the normalised contact within the agency (the key is DJANGO_SECRET_KEY, never in the
    database), so a copy of the table alone gives nothing to try phone numbers against."""
    return salted_hmac(
        "muster.member-request-contact", f"{agency.pk}|{kind}|{normalize_contact(kind, contact)}", algorithm="sha256"
    ).hexdigest()


def request_submit(
    *,
    agency: Agency,
    who: str,
    contact_kind: str,
    contact: str,
    good_time: str,
    urgency: str,
    topic: str,
    served_by: str,
    contact_visible_to: str,
) -> MemberRequest:
    """A member asks for a peer. A second request from the same contact while one is still open folds into it
    (asked again, at the higher urgency), so a flood from one contact is one row and cannot bury others."""
    if contact_kind == MemberRequest.ContactKind.TEAM_LINE:
        contact = ""
    elif not normalize_contact(contact_kind, contact):
        raise ValidationError("Give a way to reach you, or choose to call the team line.", code=RequestError.NO_CONTACT)
    priority = MemberRequest.PRIORITY[urgency]
    now = timezone.now()
    digest = contact_digest(agency, contact_kind, contact) if contact else ""
    with transaction.atomic():
        existing = None
        if digest:
            existing = (
                MemberRequest.objects.select_for_update()
                .filter(agency=agency, contact_digest=digest)
                .exclude(status=MemberRequest.Status.CLOSED)
                .first()
            )
        if existing is not None:
            existing.times_asked += 1
            existing.last_asked_at = now
            if priority < existing.priority:
                existing.priority, existing.urgency = priority, urgency
            existing.save(update_fields=["times_asked", "last_asked_at", "priority", "urgency"])
            row = existing
        else:
            row = MemberRequest(
                agency=agency,
                who=who,
                contact_kind=contact_kind,
                contact=contact or None,
                contact_digest=digest,
                good_time=good_time,
                urgency=urgency,
                priority=priority,
                topic=topic,
                served_by=served_by,
                contact_visible_to=contact_visible_to,
                asked_at=now,
                last_asked_at=now,
            )
            row.full_clean(exclude=["contact"])
            row.save()
        # No request=: the member's address is not recorded anywhere.
        audit_record(action=AuditAction.REQUEST_RECEIVED, agency=agency, obj=row)
    return row


# --- The queue -------------------------------------------------------------------------------------------------


def _open_for_update(row: MemberRequest, *statuses: str) -> MemberRequest:
    row = MemberRequest.objects.select_for_update().get(pk=row.pk)
    if row.status not in statuses:
        raise ValidationError("This request was already taken or closed; reload the queue.", code=RequestError.NOT_OPEN)
    return row


def request_assign(*, actor, row: MemberRequest, supporter: Membership, request=None) -> MemberRequest:
    """Give the request to one ready supporter of a serving agency (the caller has checked the actor may run
    this request's queue). The supporter is told by e-mail that a request waits for them: no member detail."""
    if supporter.pk not in {m.pk for m in selectors.ready_supporters(row)}:
        raise ValidationError("Choose a ready supporter from the list.", code=RequestError.NOT_READY)
    with transaction.atomic():
        row = _open_for_update(row, MemberRequest.Status.NEW, MemberRequest.Status.ASSIGNED)
        row.status = MemberRequest.Status.ASSIGNED
        row.assigned_to = supporter.user
        row.assigned_agency = supporter.agency
        row.assigned_by = actor
        row.assigned_at = timezone.now()
        row.save(update_fields=["status", "assigned_to", "assigned_agency", "assigned_by", "assigned_at"])
        audit_record(
            action=AuditAction.REQUEST_ASSIGNED, actor=actor, agency=supporter.agency, obj=row, request=request
        )
        notify(
            supporter.user.email,
            "member_request_assigned",
            {
                "agency": supporter.agency,
                "urgent": row.urgent,
                "link": _link("member_request_detail", agency_slug=supporter.agency.slug, request_uuid=row.uuid),
            },
        )
    return row


def request_contacted(*, actor, agency: Agency, row: MemberRequest, request=None) -> MemberRequest:
    """The supporter reached the member (called when they log the contact as an encounter)."""
    with transaction.atomic():
        row = MemberRequest.objects.select_for_update().get(pk=row.pk)
        if row.assigned_to_id != actor.pk or row.assigned_agency_id != agency.pk:
            raise ValidationError("This request is not assigned to you.", code=RequestError.NOT_OPEN)
        if row.status == MemberRequest.Status.ASSIGNED:
            row.status = MemberRequest.Status.CONTACTED
            row.contacted_at = timezone.now()
            row.save(update_fields=["status", "contacted_at"])
            audit_record(action=AuditAction.REQUEST_CONTACTED, actor=actor, agency=agency, obj=row, request=request)
    return row


def request_close(*, actor, row: MemberRequest, request=None) -> MemberRequest:
    """Close: the contact is destroyed once the policy's retention window has passed (`contacts_destroy_due`)."""
    with transaction.atomic():
        row = MemberRequest.objects.select_for_update().get(pk=row.pk)
        if row.status == MemberRequest.Status.CLOSED:
            return row
        row.status = MemberRequest.Status.CLOSED
        row.closed_at = timezone.now()
        row.save(update_fields=["status", "closed_at"])
        audit_record(
            action=AuditAction.REQUEST_CLOSED,
            actor=actor,
            agency=row.assigned_agency or row.agency,
            obj=row,
            request=request,
        )
    return row


def request_contact_destroy(*, row: MemberRequest) -> MemberRequest:
    """Shred the request's own key and empty its contact and digest: what any backup holds of it is unreadable."""
    with transaction.atomic():
        row = MemberRequest.objects.select_for_update().get(pk=row.pk)
        if row.contact_destroyed_at is not None:
            return row
        data_keys_destroy(subject=row.uuid)
        MemberRequest.objects.filter(pk=row.pk).update(
            contact=None, contact_digest="", contact_destroyed_at=timezone.now()
        )
        audit_record(action=AuditAction.REQUEST_CONTACT_DESTROYED, agency=row.agency, obj=row)
    row.refresh_from_db()
    return row


def requests_contacts_destroy_for_agency(*, agency: Agency) -> int:
    """Destroy the contact of every request of an agency that leaves the network (offboarding)."""
    rows = MemberRequest.objects.filter(agency=agency, contact_destroyed_at__isnull=True)
    for row in rows:
        request_contact_destroy(row=row)
    return len(rows)


def contacts_destroy_due(*, now: datetime.datetime | None = None) -> int:
    """Destroy the contact of every request closed longer ago than its network's retention window."""
    now = now or timezone.now()
    count = 0
    rows = MemberRequest.objects.filter(
        status=MemberRequest.Status.CLOSED, contact_destroyed_at__isnull=True
    ).select_related("agency__network__policy")
    for row in rows:
        days = row.agency.network.policy.request_contact_retention_days
        if row.closed_at <= now - datetime.timedelta(days=days):
            request_contact_destroy(row=row)
            count += 1
    return count


def _link(name: str, **kwargs) -> str:
    return settings.MUSTER_BASE_URL + reverse(name, kwargs=kwargs)


# --- Escalation ------------------------------------------------------------------------------------------------


def _regional_coordinator_emails(agency: Agency) -> list[str]:
    return list(
        NetworkRole.objects.filter(
            network_id=agency.network_id, role=NetworkRole.Role.REGIONAL_COORDINATOR, region_id=agency.region_id
        ).values_list("user__email", flat=True)
    )


def requests_escalate(*, now: datetime.datetime | None = None) -> int:
    """New requests past their first-contact target: the queue's coordinators are told once it is missed, the
    region's coordinators once it is missed twice over. The e-mails say which queue, never who asked."""
    now = now or timezone.now()
    sent = 0
    rows = MemberRequest.objects.filter(status=MemberRequest.Status.NEW, escalated_regional_at__isnull=True)
    for row in rows.select_related("agency__network__policy", "agency__region"):
        policy = row.agency.network.policy
        due = selectors.first_contact_due_at(row, policy)
        if now < due:
            continue
        late_twice = now >= due + (due - row.asked_at)
        with transaction.atomic():
            if row.escalated_at is None:
                if row.cross_agency:
                    emails, link = _regional_coordinator_emails(row.agency), _link("network_member_requests")
                else:
                    emails = [m.user.email for m in selectors.coordinators_of(row.agency)]
                    link = _link("member_request_queue", agency_slug=row.agency.slug)
                notify(emails, "member_request_late", {"agency": row.agency, "urgent": row.urgent, "link": link})
                MemberRequest.objects.filter(pk=row.pk).update(escalated_at=now)
            elif late_twice:
                notify(
                    _regional_coordinator_emails(row.agency),
                    "member_request_late",
                    {
                        "agency": row.agency,
                        "urgent": row.urgent,
                        "link": _link("network_member_requests"),
                        "again": True,
                    },
                )
                MemberRequest.objects.filter(pk=row.pk).update(escalated_regional_at=now)
            else:
                continue
            audit_record(action=AuditAction.REQUEST_ESCALATED, agency=row.agency, obj=row)
            sent += 1
    return sent
