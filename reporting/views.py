"""Leadership dashboards: published figures only (frozen, suppressed when published). CSV and print too."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from agencies.access import agency_view
from agencies.models import Role
from network.access import is_state_admin, network_view, region_ids_for
from network.audit import AuditAction, audit_record
from network.csvexport import csv_response
from network.models import NetworkRole, Region
from network.selectors import policy_for
from reporting import selectors, services
from reporting.models import SnapshotRun

LEADERS = (Role.CHIEF, Role.COORDINATOR, Role.AGENCY_ADMIN)
NETWORK_READERS = (NetworkRole.Role.STATE_ADMIN, NetworkRole.Role.REGIONAL_COORDINATOR)


def _network_scope(request: HttpRequest) -> tuple[selectors.Scope, str]:
    network = request.network_roles[0].network
    region_ids = region_ids_for(request)
    if region_ids is None:
        return selectors.Scope(network=network), network.name
    regions = Region.objects.filter(network=network, pk__in=region_ids).order_by("name")
    return selectors.Scope(network=network, region_ids=tuple(r.pk for r in regions)), ", ".join(r.name for r in regions)


@agency_view(*LEADERS)
def agency_dashboard(request: HttpRequest) -> HttpResponse:
    data = selectors.dashboard(scope=selectors.Scope(network=request.tenant.network, agency=request.tenant))
    return render(request, "reporting/dashboard.html", {**data, "scope": request.tenant.name})


@network_view(*NETWORK_READERS)
def network_dashboard(request: HttpRequest) -> HttpResponse:
    scope, name = _network_scope(request)
    data = selectors.dashboard(scope=scope)
    run_id = request.GET.get("run", "")
    # ASCII digits only: str.isdigit() also admits "²", which no integer lookup accepts.
    run = SnapshotRun.objects.filter(pk=run_id).first() if run_id.isascii() and run_id.isdigit() else None
    return render(
        request,
        "reporting/dashboard.html",
        {**data, "scope": name, "network_page": True, "run": run, "can_rebuild": is_state_admin(request)},
    )


def _csv(request: HttpRequest, scope: selectors.Scope, filename: str) -> StreamingHttpResponse:
    # The figures are read here, inside the request (and its schema and audit transaction); only turning
    # them into text and sending it is left to the streamed response.
    rows = [["period", "section", "item", "value"], *selectors.csv_rows(scope=scope)]
    response = csv_response(rows, filename=filename)
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
    scope = selectors.Scope(network=request.tenant.network, agency=request.tenant)
    return _csv(request, scope, f"muster-{request.tenant.slug}.csv")


@network_view(*NETWORK_READERS)
def network_dashboard_csv(request: HttpRequest) -> HttpResponse:
    return _csv(request, _network_scope(request)[0], "muster-network.csv")


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


@network_view(NetworkRole.Role.STATE_ADMIN)
def directory_feedback(request: HttpRequest) -> HttpResponse:
    """The referral directory's dead ends this quarter, per entry: counts only, suppressed."""
    network = request.network_roles[0].network
    return render(
        request,
        "reporting/directory_feedback.html",
        {"rows": selectors.directory_dead_ends(network), "threshold": policy_for(network).suppression_threshold},
    )
