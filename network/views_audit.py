"""The audit trail in the browser: state admins search every event, agency admins their agency's
administrative events (never care events: see network.audit.CARE_ACTIONS)."""

from __future__ import annotations

import datetime

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from network.access import network_view
from network.audit import AuditAction, audit_record
from network.forms import AuditSearchForm
from network.models import AuditEvent, NetworkRole
from network.paging import page_of

PAGE_SIZE = 50


def _utc_day(day: datetime.date, *, end: bool = False) -> datetime.datetime:
    start = datetime.datetime.combine(day, datetime.time.min, tzinfo=datetime.UTC)
    return start + datetime.timedelta(days=1) if end else start


def _filtered(events: QuerySet[AuditEvent], data: dict) -> QuerySet[AuditEvent]:
    if data.get("action"):
        events = events.filter(action__startswith=data["action"].strip())
    if data.get("actor"):
        events = events.filter(actor__email__iexact=data["actor"].strip())
    if data.get("outcome"):
        events = events.filter(outcome=data["outcome"])
    if data.get("object_id"):
        events = events.filter(object_id=data["object_id"].strip())
    if data.get("since"):
        events = events.filter(occurred_at__gte=_utc_day(data["since"]))
    if data.get("until"):
        events = events.filter(occurred_at__lt=_utc_day(data["until"], end=True))
    if data.get("agency"):
        events = events.filter(agency=data["agency"])
    return events


def utc_stamp(moment: datetime.datetime) -> str:
    """UTC to the hundredth of a second, as agencies' auditors ask: 2026-11-22 06:41:55.07Z."""
    moment = moment.astimezone(datetime.UTC)
    return f"{moment:%Y-%m-%d %H:%M:%S}.{moment.microsecond // 10000:02d}Z"


def audit_search(request: HttpRequest, events: QuerySet[AuditEvent], *, agencies=None, agency=None) -> HttpResponse:
    form = AuditSearchForm(request.GET or None, agencies=agencies)
    data = form.cleaned_data if form.is_bound and form.is_valid() else {}
    events = _filtered(events, data).select_related("actor", "agency").order_by("-chain_position", "-id")
    page = page_of(request, events, per_page=PAGE_SIZE)
    labels = dict(AuditAction.choices)
    rows = [
        {
            "event": event,
            "at": utc_stamp(event.occurred_at),
            "label": labels.get(event.action, event.action),
        }
        for event in page
    ]
    # Reading the trail is itself recorded: who looked, for which agency.
    audit_record(
        action=AuditAction.AUDIT_SEARCHED, actor=request.user, agency=agency, object_type="audit", request=request
    )
    return render(
        request,
        "network/audit_search.html",
        {"form": form, "page": page, "rows": rows, "agency": agency},
    )


@network_view(NetworkRole.Role.STATE_ADMIN)
def network_audit(request: HttpRequest) -> HttpResponse:
    network = request.network_roles[0].network
    return audit_search(
        request,
        AuditEvent.objects.all(),
        agencies=network.agencies.order_by("name"),
    )
