"""Agreements and protocols: the state admin's network pages and the agency admin's agreement pages."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from agencies.access import agency_view
from agencies.models import Agency, Role
from governance import defaults, directory_csv, selectors, services
from governance.forms import (
    AgreementDecisionForm,
    AgreementForm,
    DirectoryImportForm,
    ProtocolForm,
    ResourceConfirmForm,
    ResourceEntryForm,
    ResourceFilterForm,
)
from governance.models import ActivationProtocol, Agreement, IncidentType
from network.access import is_state_admin, network_view, region_ids_for
from network.audit import AuditAction, audit_record
from network.csvexport import csv_response
from network.models import NetworkRole, Region
from network.paging import page_of
from network.service_errors import add_service_errors, message_service_error

STATE_ADMIN = NetworkRole.Role.STATE_ADMIN
REGIONAL = NetworkRole.Role.REGIONAL_COORDINATOR


def _network(request: HttpRequest):
    return request.network_roles[0].network


def _agreements(request: HttpRequest):
    """The network's agreements this network user may read: a regional coordinator only those with a
    party in their region (or network-wide mutual aid); any other answers 404."""
    return Agreement.objects.filter(network=_network(request)).visible_in_regions(region_ids_for(request))


def _agreement_rows(agreements):
    return agreements.prefetch_related("parties").select_related("proposed_by", "decided_by")


def _download(agreement: Agreement) -> HttpResponse:
    response = HttpResponse(bytes(agreement.document), content_type=agreement.document_type)
    # A download, never rendered in our origin; the name is ours, the user's file name is only a hint.
    suffix = {"application/pdf": "pdf", "image/png": "png", "image/jpeg": "jpg"}[agreement.document_type]
    response["Content-Disposition"] = f'attachment; filename="agreement-{agreement.uuid}.{suffix}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- Network pages --------------------------------------------------------------------------------------


@network_view(STATE_ADMIN, REGIONAL)
def agreement_list(request: HttpRequest) -> HttpResponse:
    agreements = _agreement_rows(_agreements(request))
    in_force = list(agreements.in_force())
    in_force_ids = {a.pk for a in in_force}
    return render(
        request,
        "governance/agreement_list.html",
        {
            "pending": [a for a in agreements if a.status == Agreement.Status.PROPOSED],
            "in_force": in_force,
            "others": [a for a in agreements if a.status != Agreement.Status.PROPOSED and a.pk not in in_force_ids],
            "can_manage": is_state_admin(request),
        },
    )


@never_cache
@network_view(STATE_ADMIN)
def agreement_create(request: HttpRequest) -> HttpResponse:
    network = _network(request)
    parties = Agency.objects.filter(network=network).exclude(status=Agency.Status.DESTROYED).order_by("name")
    form = AgreementForm(request.POST or None, request.FILES or None, parties=parties, allow_network_wide=True)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            agreement = services.agreement_record(
                actor=request.user,
                network=network,
                title=data["title"],
                network_wide=data["network_wide"],
                parties=list(data["parties"]),
                scopes=data["scopes"],
                effective_on=data["effective_on"],
                expires_on=data["expires_on"],
                document=data["document"],
                request=request,
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"“{agreement.title}” is recorded and in force from {agreement.effective_on}.")
            return redirect("network_agreement", agreement_uuid=agreement.uuid)
    return render(request, "governance/agreement_form.html", {"form": form, "network_side": True})


@network_view(STATE_ADMIN, REGIONAL)
def agreement_detail(request: HttpRequest, agreement_uuid) -> HttpResponse:
    agreement = get_object_or_404(_agreement_rows(_agreements(request)), uuid=agreement_uuid)
    return render(
        request,
        "governance/agreement_detail.html",
        {
            "agreement": agreement,
            "can_manage": is_state_admin(request),
            "download_url_name": "network_agreement_document",
        },
    )


@require_POST
@network_view(STATE_ADMIN)
def agreement_decide(request: HttpRequest, agreement_uuid) -> HttpResponse:
    agreement = get_object_or_404(Agreement, network=_network(request), uuid=agreement_uuid)
    form = AgreementDecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose approve, decline or revoke.")
        return redirect("network_agreement", agreement_uuid=agreement.uuid)
    decision = form.cleaned_data["decision"]
    try:
        if decision == "revoke":
            services.agreement_revoke(actor=request.user, agreement=agreement, request=request)
        else:
            services.agreement_decide(
                actor=request.user, agreement=agreement, approve=decision == "approve", request=request
            )
    except ValidationError as error:
        message_service_error(request, error)
    else:
        done = {"approve": "approved and in force", "decline": "declined", "revoke": "revoked"}[decision]
        messages.success(request, f"The agreement is {done}.")
    return redirect("network_agreement", agreement_uuid=agreement.uuid)


@never_cache
@network_view(STATE_ADMIN, REGIONAL)
def agreement_document(request: HttpRequest, agreement_uuid) -> HttpResponse:
    agreement = get_object_or_404(_agreements(request), uuid=agreement_uuid)
    audit_record(action=AuditAction.AGREEMENT_DOCUMENT_VIEWED, actor=request.user, obj=agreement, request=request)
    return _download(agreement)


@network_view(STATE_ADMIN, REGIONAL)
def protocol_list(request: HttpRequest) -> HttpResponse:
    network = _network(request)
    protocols = {
        p.incident_type: p
        for p in ActivationProtocol.objects.filter(network=network)
        .prefetch_related("steps")
        .select_related("updated_by")
    }
    rows = [{"type": value, "label": label, "protocol": protocols.get(value)} for value, label in IncidentType.choices]
    return render(
        request,
        "governance/protocol_list.html",
        {"rows": rows, "can_manage": is_state_admin(request)},
    )


@never_cache
@network_view(STATE_ADMIN)
def protocol_edit(request: HttpRequest, incident_type: str) -> HttpResponse:
    if incident_type not in IncidentType.values:
        raise Http404("Not found.")
    network = _network(request)
    protocol = selectors.protocol_for(network, incident_type)
    if protocol is not None:
        initial = {
            "name": protocol.name,
            "steps": selectors.steps_as_text(protocol),
            "follow_up_days": ", ".join(str(day) for day in protocol.follow_up_days),
            "text_wait_minutes": protocol.text_wait_minutes,
            "call_wait_minutes": protocol.call_wait_minutes,
        }
    else:
        initial = {
            "name": defaults.default_name(incident_type),
            "steps": defaults.default_steps(incident_type),
            "follow_up_days": defaults.DEFAULT_FOLLOW_UP_DAYS,
            "text_wait_minutes": 10,
            "call_wait_minutes": 10,
        }
    form = ProtocolForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.protocol_save(
                actor=request.user,
                network=network,
                incident_type=incident_type,
                name=form.cleaned_data["name"],
                steps=form.cleaned_data["steps"],
                follow_up_days=form.cleaned_data["follow_up_days"],
                text_wait_minutes=form.cleaned_data["text_wait_minutes"],
                call_wait_minutes=form.cleaned_data["call_wait_minutes"],
                request=request,
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, "Protocol saved. Activations opened from now on apply it.")
            return redirect("network_protocols")
    return render(
        request,
        "governance/protocol_form.html",
        {"form": form, "protocol": protocol, "incident_label": IncidentType(incident_type).label},
    )


# --- Agency pages -------------------------------------------------------------------------------------------


@agency_view(Role.AGENCY_ADMIN, Role.COORDINATOR)
def agency_agreement_list(request: HttpRequest) -> HttpResponse:
    agency = request.tenant
    agreements = _agreement_rows(Agreement.objects.involving(agency))
    return render(
        request,
        "governance/agency_agreement_list.html",
        {"agreements": agreements, "can_propose": request.membership.role == Role.AGENCY_ADMIN},
    )


@never_cache
@agency_view(Role.AGENCY_ADMIN)
def agency_agreement_propose(request: HttpRequest) -> HttpResponse:
    agency = request.tenant
    parties = Agency.objects.filter(network=agency.network).exclude(status=Agency.Status.DESTROYED).order_by("name")
    form = AgreementForm(
        request.POST or None,
        request.FILES or None,
        parties=parties,
        allow_network_wide=False,
        initial={"parties": [agency.pk]},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.agreement_record(
                actor=request.user,
                network=agency.network,
                title=data["title"],
                network_wide=False,
                parties=list(data["parties"]),
                scopes=data["scopes"],
                effective_on=data["effective_on"],
                expires_on=data["expires_on"],
                document=data["document"],
                proposing_agency=agency,
                request=request,
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, "Sent to the state admin for approval. It is in force once approved.")
            return redirect("agency_agreements", agency_slug=agency.slug)
    return render(request, "governance/agreement_form.html", {"form": form, "network_side": False})


@never_cache
@agency_view(Role.AGENCY_ADMIN)
def agency_agreement_document(request: HttpRequest, agreement_uuid) -> HttpResponse:
    agency = request.tenant
    agreement = get_object_or_404(Agreement.objects.involving(agency), uuid=agreement_uuid)
    audit_record(
        action=AuditAction.AGREEMENT_DOCUMENT_VIEWED, actor=request.user, agency=agency, obj=agreement, request=request
    )
    return _download(agreement)


# --- The referral resource directory (network pages) ------------------------------------------------------------


def _regions(request: HttpRequest):
    regions = Region.objects.filter(network=_network(request)).order_by("name")
    keeps = region_ids_for(request)
    return regions if keeps is None else regions.filter(pk__in=keeps)


def _resources(request: HttpRequest):
    """The entries this network user may see: every one for the state admin; a regional coordinator's region's
    and the statewide ones (which only the state admin changes) for a regional coordinator."""
    entries = selectors.resources_of(_network(request))
    keeps = region_ids_for(request)
    return entries if keeps is None else entries.filter(Q(region_id__in=keeps) | Q(region__isnull=True))


def _keeps(request: HttpRequest, entry) -> bool:
    keeps = region_ids_for(request)
    return keeps is None or entry.region_id in keeps


def _resource_form_data(data: dict) -> dict:
    return {name: data[name] for name in services.RESOURCE_FIELDS}


@network_view(STATE_ADMIN, REGIONAL)
def resource_list(request: HttpRequest) -> HttpResponse:
    form = ResourceFilterForm(request.GET or None, regions=Region.objects.filter(network=_network(request)))
    filters = {}
    if form.is_bound:
        form.is_valid()
        filters = {name: value for name, value in form.cleaned_data.items() if name not in form.errors}
    page = page_of(request, selectors.resources_filtered(_resources(request), filters))
    return render(
        request,
        "governance/resource_list.html",
        {
            "page": page,
            "form": form,
            "flagged": selectors.resources_flagged_count(_network(request)),
            "keeps": region_ids_for(request),
            "confirm_form": ResourceConfirmForm(),
        },
    )


@never_cache
@network_view(STATE_ADMIN, REGIONAL)
def resource_create(request: HttpRequest) -> HttpResponse:
    network = _network(request)
    form = ResourceEntryForm(
        request.POST or None,
        regions=_regions(request),
        initial={"confirmed_on": timezone.localdate(), "accepting_new_clients": True, "active": True},
    )
    if request.method == "POST" and form.is_valid():
        try:
            entry = services.resource_save(
                actor=request.user, network=network, request=request, **_resource_form_data(form.cleaned_data)
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"“{entry.name}” is in the directory.")
            return redirect("network_resources")
    return render(request, "governance/resource_form.html", {"form": form, "entry": None})


@never_cache
@network_view(STATE_ADMIN, REGIONAL)
def resource_edit(request: HttpRequest, entry_uuid) -> HttpResponse:
    network = _network(request)
    entry = get_object_or_404(_resources(request), uuid=entry_uuid)
    initial = {name: getattr(entry, name) for name in services.RESOURCE_FIELDS}
    initial["languages"] = ", ".join(entry.languages)
    initial["insurance"] = ", ".join(entry.insurance)
    form = ResourceEntryForm(request.POST or None, regions=_regions(request), initial=initial)
    can_change = _keeps(request, entry)
    if request.method == "POST" and form.is_valid():
        try:
            services.resource_save(
                actor=request.user,
                network=network,
                entry=entry,
                request=request,
                **_resource_form_data(form.cleaned_data),
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, "Directory entry saved.")
            return redirect("network_resources")
    return render(
        request,
        "governance/resource_form.html",
        {"form": form, "entry": entry, "can_change": can_change, "standing": entry.standing()},
    )


@require_POST
@network_view(STATE_ADMIN, REGIONAL)
def resource_confirm(request: HttpRequest, entry_uuid) -> HttpResponse:
    entry = get_object_or_404(_resources(request), uuid=entry_uuid)
    form = ResourceConfirmForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give the waiting time as a whole number of days, or leave it empty.")
        return redirect("network_resources")
    try:
        services.resource_confirm(
            actor=request.user,
            entry=entry,
            accepting_new_clients=form.cleaned_data["accepting_new_clients"],
            wait_days=form.cleaned_data["wait_days"],
            request=request,
        )
    except ValidationError as error:
        message_service_error(request, error)
    else:
        messages.success(request, f"“{entry.name}” confirmed accurate today.")
    return redirect("network_resources")


@never_cache
@network_view(STATE_ADMIN, REGIONAL)
def resource_import(request: HttpRequest) -> HttpResponse:
    form = DirectoryImportForm(request.POST or None, request.FILES or None)
    report = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > 1_000_000:
            form.add_error("file", "The file is larger than 1 MB; split it.")
        else:
            report = directory_csv.directory_import(
                actor=request.user, network=_network(request), content=upload.read(), request=request
            )
            if not report.errors:
                messages.success(request, f"Directory updated from {report.applied} row(s).")
                return redirect("network_resources")
    return render(
        request, "governance/resource_import.html", {"form": form, "report": report, "columns": directory_csv.COLUMNS}
    )


@network_view(STATE_ADMIN, REGIONAL)
def resource_csv(request: HttpRequest) -> HttpResponse:
    entries = _resources(request).order_by("name", "pk")
    audit_record(
        action=AuditAction.REPORT_EXPORTED,
        actor=request.user,
        object_type="governance.resourceentry",
        object_id="directory",
        request=request,
    )
    return csv_response(directory_csv.export_rows(entries.iterator()), filename="referral-directory.csv")
