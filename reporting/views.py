"""Leadership dashboards: aggregate snapshots only, with small cells suppressed. CSV and print too."""

import csv

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from agencies.access import agency_view, is_state_admin, network_view, region_ids_for
from agencies.models import Agency, Membership, Role
from network.audit import AuditAction, audit_record
from network.models import NetworkRole, Region
from network.standards import policy_for
from reporting import selectors, services
from reporting.models import SnapshotRun

LEADERS = (Role.CHIEF, Role.COORDINATOR, Role.AGENCY_ADMIN)
NETWORK_READERS = (NetworkRole.Role.STATE_ADMIN, NetworkRole.Role.REGIONAL_COORDINATOR)


def _agency_data(agency: Agency) -> dict:
    roster = Membership.objects.filter(
        agency=agency, is_active=True, role__in=[Role.PEER_SUPPORTER, Role.COORDINATOR]
    ).count()
    return selectors.dashboard(
        network=agency.network,
        agency_ids=[agency.pk],
        threshold=policy_for(agency.network).suppression_threshold,
        small=roster < selectors.SMALL_AGENCY_ROSTER,
    )


def _network_scope(request: HttpRequest) -> dict:
    network = request.network_roles[0].network
    agencies = Agency.objects.filter(network=network, status=Agency.Status.ACTIVE)
    region_ids = region_ids_for(request)
    region = None
    if region_ids is not None:
        agencies = agencies.filter(region_id__in=region_ids)
        region = Region.objects.filter(pk__in=region_ids).first()
    threshold = policy_for(network).suppression_threshold
    data = selectors.dashboard(
        network=network,
        agency_ids=list(agencies.values_list("pk", flat=True)),
        region=region,
        whole_network=region_ids is None,
        threshold=threshold,
    )
    if region_ids is None:
        data.update(selectors.network_breakdowns(network=network, threshold=threshold))
    data["scope"] = (
        network.name if region_ids is None else ", ".join(r.name for r in Region.objects.filter(pk__in=region_ids))
    )
    return data


@agency_view(*LEADERS)
def agency_dashboard(request: HttpRequest) -> HttpResponse:
    data = _agency_data(request.tenant)
    return render(
        request, "reporting/dashboard.html", {**data, "scope": request.tenant.name, "csv_url": "agency_dashboard_csv"}
    )


@network_view(*NETWORK_READERS)
def network_dashboard(request: HttpRequest) -> HttpResponse:
    data = _network_scope(request)
    run_id = request.GET.get("run", "")
    # ASCII digits only: str.isdigit() also admits "²", which no integer lookup accepts.
    run = SnapshotRun.objects.filter(pk=run_id).first() if run_id.isascii() and run_id.isdigit() else None
    return render(
        request,
        "reporting/dashboard.html",
        {**data, "network_page": True, "run": run, "can_rebuild": is_state_admin(request)},
    )


def _csv(request: HttpRequest, data: dict, filename: str) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow(["section", "item", "value"])
    sections = [("Encounters per period", data["trend"]), ("Activations by incident type", data["activations"])]
    sections += [(b["title"], b) for b in data["breakdowns"]]
    for extra in ("by_discipline", "by_region"):
        if extra in data:
            sections.append((f"Encounters, last 12 months, {extra.replace('_', ' ')}", data[extra]))
    for title, table in sections:
        for row in table["rows"]:
            writer.writerow([title, row["label"], "suppressed" if row["value"] is None else row["value"]])
        writer.writerow([title, "Total", "suppressed" if table["total"] is None else table["total"]])
    for label, value in (
        ("Participation rate %", data["participation"]["rate"]),
        ("Follow-up completion rate %", data["followups"]["completion_rate"]),
        ("Follow-ups completed on time %", data["followups"]["on_time_rate"]),
        ("Overdue follow-ups", data["followups"]["overdue"]),
    ):
        writer.writerow(["Program", label, "suppressed" if value is None else value])
    writer.writerow(["Note", f"Counts from 1 to {data['threshold'] - 1} are suppressed", ""])
    audit_record(
        action=AuditAction.REPORT_EXPORTED,
        actor=request.user,
        agency=getattr(request, "tenant", None),
        object_type="reporting.dashboard",
        object_id=filename[:64],
        request=request,
    )
    return response


@agency_view(*LEADERS)
def agency_dashboard_csv(request: HttpRequest) -> HttpResponse:
    return _csv(request, _agency_data(request.tenant), f"muster-{request.tenant.slug}.csv")


@network_view(*NETWORK_READERS)
def network_dashboard_csv(request: HttpRequest) -> HttpResponse:
    return _csv(request, _network_scope(request), "muster-network.csv")


@require_POST
@network_view(NetworkRole.Role.STATE_ADMIN)
def snapshots_rebuild(request: HttpRequest) -> HttpResponse:
    running = SnapshotRun.objects.filter(status__in=[SnapshotRun.Status.QUEUED, SnapshotRun.Status.RUNNING]).first()
    if running is not None:
        messages.info(request, "A rebuild is already under way.")
        return redirect(f"{reverse('network_dashboard')}?run={running.pk}")
    run = services.run_request(actor=request.user, full=True, request=request)
    messages.success(request, "Rebuild started.")
    return redirect(f"{reverse('network_dashboard')}?run={run.pk}")


@network_view(NetworkRole.Role.STATE_ADMIN)
def snapshots_run_progress(request: HttpRequest, run_id: int) -> HttpResponse:
    run = get_object_or_404(SnapshotRun, pk=run_id)
    response = render(request, "reporting/_run_progress.html", {"run": run})
    if request.htmx and run.is_finished:
        response["HX-Refresh"] = "true"
    return response
