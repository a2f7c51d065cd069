"""A deployment's hours page and CSV, its printable ICS-214-style activity log, demobilising it, and the home
agency's page of its people on deployments (activations.deploy_hours does the work)."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from activations import deploy_hours, deploy_requests
from activations.access import COORDINATE, deployment_view
from agencies.access import agency_view
from agencies.models import Role
from network.csvexport import csv_response
from network.paging import page_of
from network.service_errors import message_service_error


def _to_hours(request: HttpRequest):
    return redirect(
        "deployment_hours", activation_uuid=request.activation.uuid, deployment_uuid=request.deployment.uuid
    )


@never_cache
@deployment_view(COORDINATE)
def deployment_hours(request: HttpRequest) -> HttpResponse:
    deployment = request.deployment
    return render(
        request,
        "deployments/hours.html",
        {
            "activation": request.activation,
            "deployment": deployment,
            "report": deploy_hours.hours_of(deployment),
            "may_demobilize": deployment.is_under_way
            and deploy_requests.may_request_deployment(request.user, request.activation),
        },
    )


@never_cache
@deployment_view(COORDINATE)
def deployment_hours_csv(request: HttpRequest) -> HttpResponse:
    deployment = request.deployment
    deploy_hours.hours_exported(actor=request.user, deployment=deployment, what="csv", request=request)
    rows = deploy_hours.hours_csv_rows(deployment)
    return csv_response(rows, filename=f"deployment-hours-{timezone.localdate():%Y-%m-%d}.csv")


@never_cache
@deployment_view(COORDINATE)
def deployment_ics214(request: HttpRequest) -> HttpResponse:
    deployment = request.deployment
    deployment.activation = request.activation  # already read, with its lead agency
    deploy_hours.hours_exported(actor=request.user, deployment=deployment, what="ics214", request=request)
    return render(
        request,
        "deployments/ics214.html",
        {
            "activation": request.activation,
            "deployment": deployment,
            "log": deploy_hours.ics214_of(deployment),
            "prepared_by": request.user.get_full_name(),
            "prepared_at": timezone.now(),
        },
    )


@require_POST
@deployment_view(COORDINATE)
def deployment_demobilize(request: HttpRequest) -> HttpResponse:
    try:
        if request.POST.get("confirm") != "yes":
            raise ValidationError("Tick the box to confirm: demobilising ends the deployment for everyone on it.")
        deploy_hours.deployment_demobilize(actor=request.user, deployment=request.deployment, request=request)
    except ValidationError as error:
        message_service_error(request, error)
    else:
        messages.success(request, "Demobilised. The rest of the rotation is cancelled; the hours stay.")
    return _to_hours(request)


@never_cache
@agency_view(Role.COORDINATOR, Role.AGENCY_ADMIN)
def agency_deployed_people(request: HttpRequest) -> HttpResponse:
    """The agency's own people on deployments elsewhere: where, when, status, hours. Never whom they supported."""
    page = page_of(request, deploy_hours.agency_deployed_people(request.tenant))
    for person in page:
        person.hours = deploy_hours.hours_in(person.worked)
    return render(request, "deployments/agency_people.html", {"agency": request.tenant, "page": page})
