"""Members' requests: the public request page (/r/<token>/), the poster, the coordinators' and the region's queues,
and a request's page. Who sees a contact: members.selectors.contact_visible_to; docs/members.md."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from agencies.access import agency_view
from agencies.models import Role
from members import selectors, services
from members.forms import AssignForm, MemberRequestForm, QueueFilterForm, RequestAddressForm
from members.models import MemberRequest
from network.access import network_view, public_view, region_ids_for
from network.audit import client_ip
from network.mfa import qr_code_svg
from network.models import NetworkRole, Vocabulary
from network.paging import page_of
from network.ratelimit import rate_limit_allows
from network.selectors import network_current, policy_for, standard_current, terms_by_vocabulary
from network.service_errors import message_service_error

logger = logging.getLogger(__name__)

# A visitor may ask 5 times an hour from one address; an agency takes 30 routine requests an hour. Urgent requests
# are never held back by the agency's limit, so a flood of routine ones cannot crowd out a member in crisis.
PER_ADDRESS = (5, 3600)
PER_AGENCY = (30, 3600)


def _topics(agency) -> list[tuple[str, str]]:
    standard = standard_current(agency.network)
    if standard is None:
        return []
    return [(t.code, t.label) for t in terms_by_vocabulary(standard)[Vocabulary.TOPIC] if t.code != "undisclosed"]


def _sent(request: HttpRequest, *, urgent: bool, address) -> HttpResponse:
    """The one answer to every complete submission: stored, folded into an earlier one, held back by a rate limit,
    a bot's, or sent to an address that no longer exists. It depends on nothing but what the visitor chose."""
    return render(request, "members/request_sent.html", {"urgent": urgent, "address": address})


@never_cache
@public_view
def member_request_form(request: HttpRequest, request_token: str) -> HttpResponse:
    """The member's request page. Works without JavaScript; "I need help now" shows 988 at once (CSS) and again
    first on the answer page."""
    address = selectors.address_for_token(request_token)
    urgent = request.method == "POST" and request.POST.get("urgency") == MemberRequest.Urgency.NOW
    if address is None:
        if request.method == "POST":
            return _sent(request, urgent=urgent, address=None)
        return render(request, "members/request_moved.html", status=404)
    agency = address.agency
    cross_agency = selectors.cross_agency_offered(agency)
    form = MemberRequestForm(request.POST or None, topics=_topics(agency), cross_agency=cross_agency)
    if request.method == "POST":
        if form.is_bot():
            return _sent(request, urgent=urgent, address=address)
        if form.is_valid():
            data = form.cleaned_data
            urgent = data["urgency"] == MemberRequest.Urgency.NOW
            ip = client_ip(request) or "unknown"
            allowed = rate_limit_allows(
                scope="member-request-ip", key=ip, limit=PER_ADDRESS[0], window_seconds=PER_ADDRESS[1]
            )
            if allowed and not urgent:
                allowed = rate_limit_allows(
                    scope="member-request-agency", key=str(agency.pk), limit=PER_AGENCY[0], window_seconds=PER_AGENCY[1]
                )
            if allowed:
                try:
                    services.request_submit(
                        agency=agency,
                        who=data["who"],
                        contact_kind=data["contact_kind"],
                        contact=data["contact"],
                        good_time=data["good_time"],
                        urgency=data["urgency"],
                        topic=data["topic"],
                        served_by=data["served_by"],
                        contact_visible_to=data["contact_visible_to"],
                    )
                except ValidationError:
                    logger.warning("member request refused by the service")  # no detail: it could identify
            else:
                logger.warning("member request held back by a rate limit")
            return _sent(request, urgent=urgent, address=address)
    return render(request, "members/request_form.html", {"form": form, "address": address, "agency": agency})


# --- The poster ---------------------------------------------------------------------------------------------------

POSTER_ROLES = (Role.COORDINATOR, Role.AGENCY_ADMIN)


def _public_link(address) -> str:
    return settings.MUSTER_BASE_URL + reverse("member_request_form", kwargs={"request_token": address.token})


@never_cache
@agency_view(*POSTER_ROLES)
def member_request_poster(request: HttpRequest) -> HttpResponse:
    """The printable poster: the address, its QR code (drawn on the server), and the page's crisis resources."""
    agency = request.tenant
    address = services.address_ensure(agency=agency)
    form = RequestAddressForm(request.POST or None, instance=address)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Saved. The request page shows these now.")
        return redirect("member_request_poster", agency_slug=agency.slug)
    link = _public_link(address)
    return render(
        request,
        "members/poster.html",
        {"agency": agency, "address": address, "link": link, "qr_svg": qr_code_svg(link), "form": form},
    )


@require_POST
@agency_view(*POSTER_ROLES)
def member_request_rotate(request: HttpRequest) -> HttpResponse:
    services.address_rotate(actor=request.user, agency=request.tenant, request=request)
    messages.success(request, "The request page has a new address. Print the new poster; the old one no longer works.")
    return redirect("member_request_poster", agency_slug=request.tenant.slug)


# --- The agency's queue and a request's page ----------------------------------------------------------------------


def _queue_context(request: HttpRequest, rows, policy) -> dict:
    filters = QueueFilterForm(request.GET or None)
    status = "open"
    if filters.is_bound and filters.is_valid():
        status = filters.cleaned_data["status"] or "open"
    page = page_of(request, rows(status))
    now = timezone.now()
    for row in page:
        row.due_at = selectors.first_contact_due_at(row, policy)
        row.late = row.status == MemberRequest.Status.NEW and now > row.due_at
    return {"page": page, "filters": filters, "policy": policy, "now": now}


@never_cache
@agency_view(Role.COORDINATOR)
def member_request_queue(request: HttpRequest) -> HttpResponse:
    agency = request.tenant
    context = _queue_context(
        request, lambda status: selectors.queue_of_agency(agency, status=status), policy_for(agency.network)
    )
    return render(request, "members/queue.html", {**context, "agency": agency, "network_queue": False})


@never_cache
@agency_view(Role.PEER_SUPPORTER, Role.COORDINATOR)
def member_requests_mine(request: HttpRequest) -> HttpResponse:
    agency = request.tenant
    page = page_of(request, selectors.assigned_to(request.user, agency))
    return render(request, "members/mine.html", {"agency": agency, "page": page})


def _agency_request(request: HttpRequest, request_uuid) -> tuple[MemberRequest, bool]:
    """The request as this agency's page may show it: to its coordinators when it is in their queue, to the
    supporter it was given to. Anything else answers 404. Returns (row, runs the queue)."""
    agency, user = request.tenant, request.user
    row = (
        MemberRequest.objects.select_related("agency__network__policy", "assigned_to", "assigned_agency")
        .filter(uuid=request_uuid)
        .first()
    )
    if row is None:
        raise Http404("Not found.")
    runs_queue = request.membership.role == Role.COORDINATOR and row.agency_id == agency.pk and not row.cross_agency
    is_assignee = row.assigned_to_id == user.pk and row.assigned_agency_id == agency.pk
    if not (runs_queue or is_assignee):
        raise Http404("Not found.")
    return row, runs_queue


def _detail_context(request: HttpRequest, row: MemberRequest, *, runs_queue: bool) -> dict:
    policy = policy_for(row.agency.network)
    supporters = selectors.ready_supporters(row) if runs_queue and row.status in selectors.OPEN_STATUSES else []
    return {
        "row": row,
        "runs_queue": runs_queue,
        "is_assignee": row.assigned_to_id == request.user.pk,
        "show_contact": selectors.contact_visible_to(row, request.user, as_coordinator=runs_queue),
        "due_at": selectors.first_contact_due_at(row, policy),
        "assign_form": AssignForm(supporters=supporters) if supporters else None,
        "topic_label": _topic_label(row),
    }


def _topic_label(row: MemberRequest) -> str:
    return dict(_topics(row.agency)).get(row.topic, "") if row.topic else ""


@never_cache
@agency_view(Role.PEER_SUPPORTER, Role.COORDINATOR)
def member_request_detail(request: HttpRequest, request_uuid) -> HttpResponse:
    row, runs_queue = _agency_request(request, request_uuid)
    if request.method == "POST":
        if not runs_queue:
            raise Http404("Not found.")
        back = redirect("member_request_detail", agency_slug=request.tenant.slug, request_uuid=row.uuid)
        return _assign(request, row, back=back)
    context = _detail_context(request, row, runs_queue=runs_queue)
    return render(request, "members/detail.html", {**context, "agency": request.tenant})


def _assign(request: HttpRequest, row: MemberRequest, *, back: HttpResponse) -> HttpResponse:
    supporters = selectors.ready_supporters(row) if row.status in selectors.OPEN_STATUSES else []
    form = AssignForm(request.POST, supporters=supporters)
    if form.is_valid():
        membership = next((m for m in supporters if m.pk == form.cleaned_data["supporter"]), None)
        if membership is not None:
            try:
                services.request_assign(actor=request.user, row=row, supporter=membership, request=request)
            except ValidationError as error:
                message_service_error(request, error)
            else:
                messages.success(request, f"Given to {membership.user.get_full_name()}. They have been told by e-mail.")
    else:
        messages.error(request, "Choose a ready supporter from the list.")
    return back


@require_POST
@agency_view(Role.PEER_SUPPORTER, Role.COORDINATOR)
def member_request_close(request: HttpRequest, request_uuid) -> HttpResponse:
    row, _runs_queue = _agency_request(request, request_uuid)
    services.request_close(actor=request.user, row=row, request=request)
    messages.success(request, "Closed. How to reach the member will be destroyed after the retention window.")
    return redirect("member_request_detail", agency_slug=request.tenant.slug, request_uuid=row.uuid)


# --- The region's queue (requests for someone from another agency) ----------------------------------------------

REGIONAL = NetworkRole.Role.REGIONAL_COORDINATOR


def _regions(request: HttpRequest) -> set[int]:
    # Only regional coordinators reach these pages (never the state admin): their own regions.
    return region_ids_for(request) or set()


@never_cache
@network_view(REGIONAL)
def network_member_requests(request: HttpRequest) -> HttpResponse:
    regions = _regions(request)
    network = network_current()
    policy = policy_for(network) if network is not None else None
    context = _queue_context(request, lambda status: selectors.queue_of_regions(regions, status=status), policy)
    return render(request, "members/queue.html", {**context, "network_queue": True})


def _regional_request(request: HttpRequest, request_uuid) -> MemberRequest:
    row = get_object_or_404(
        MemberRequest.objects.select_related("agency__network__policy", "assigned_to", "assigned_agency"),
        uuid=request_uuid,
        served_by=MemberRequest.ServedBy.OTHER,
        agency__region_id__in=_regions(request),
    )
    return row


@never_cache
@network_view(REGIONAL)
def network_member_request(request: HttpRequest, cross_request_uuid) -> HttpResponse:
    row = _regional_request(request, cross_request_uuid)
    if request.method == "POST":
        return _assign(request, row, back=redirect("network_member_request", cross_request_uuid=row.uuid))
    context = _detail_context(request, row, runs_queue=True)
    return render(request, "members/detail.html", {**context, "network_queue": True})


@require_POST
@network_view(REGIONAL)
def network_member_request_close(request: HttpRequest, cross_request_uuid) -> HttpResponse:
    row = _regional_request(request, cross_request_uuid)
    services.request_close(actor=request.user, row=row, request=request)
    messages.success(request, "Closed. How to reach the member will be destroyed after the retention window.")
    return redirect("network_member_request", cross_request_uuid=row.uuid)
