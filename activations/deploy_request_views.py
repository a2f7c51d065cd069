"""Deployment pages, first half (issue 19): the request form, the deployment page (the requester's view and the
deployed supporter's own), the agency's open requests with its offer forms, and the supporter's confirm page."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache

from activations import deploy_requests
from activations.access import COORDINATE, DEPLOYED, activation_view, deployment_view
from activations.deploy_request_forms import AnswerForm, DecideForm, DeploymentRequestForm, OfferForm
from activations.models import Deployment, DeploymentOffer
from agencies.access import agency_view
from agencies.models import Role
from network.service_errors import add_service_errors, message_service_error


def _to_deployment(deployment: Deployment):
    return redirect("deployment_detail", activation_uuid=deployment.activation.uuid, deployment_uuid=deployment.uuid)


@never_cache
@activation_view(COORDINATE)
def deployment_new(request: HttpRequest) -> HttpResponse:
    """The request form: the lead agency's coordinators, the lead region's regional coordinator, the state admin."""
    activation = request.activation
    if not activation.is_open or not deploy_requests.may_request_deployment(request.user, activation):
        raise Http404("Not found.")
    form = DeploymentRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            deployment = deploy_requests.deployment_request(
                actor=request.user,
                activation=activation,
                supporters_wanted=data["supporters_wanted"],
                starts_on=data["starts_on"],
                ends_on=data["ends_on"],
                reporting_location=data["reporting_location"],
                disciplines=data["disciplines"],
                languages=data["languages"],
                cism_trained=data["cism_trained"],
                request=request,
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            asked = len(deployment.asked_agency_ids)
            messages.success(
                request, f"Deployment requested: {asked} agenc{'y' if asked == 1 else 'ies'} asked for supporters."
            )
            return _to_deployment(deployment)
    return render(request, "deployments/request.html", {"activation": activation, "form": form})


@never_cache
@deployment_view(COORDINATE, DEPLOYED)
def deployment_detail(request: HttpRequest) -> HttpResponse:
    """Coordinators: the request, the asked agencies, every offer with its people, accept or decline. A deployed
    supporter: the deployment's when and where and their own status, nothing of the other people or offers."""
    activation, deployment = request.activation, request.deployment
    if COORDINATE not in request.activation_perms:
        return render(
            request,
            "deployments/deployment.html",
            {"activation": activation, "deployment": deployment, "person": request.deployed_person, "own": True},
        )
    may_decide = deploy_requests.may_request_deployment(request.user, activation)
    if request.method == "POST":
        form = DecideForm(request.POST)
        if not may_decide:
            raise Http404("Not found.")
        if not form.is_valid():
            messages.error(request, "Choose accept or decline for an offer.")
            return _to_deployment(deployment)
        offer = DeploymentOffer.objects.filter(deployment=deployment, pk=form.cleaned_data["offer"]).first()
        if offer is None:
            raise Http404("Not found.")
        accept = form.cleaned_data["decision"] == "accept"
        try:
            deploy_requests.offer_decide(actor=request.user, offer=offer, accept=accept, request=request)
        except ValidationError as error:
            message_service_error(request, error)
        else:
            messages.success(
                request, "Offer accepted: each supporter is asked to confirm." if accept else "Offer declined."
            )
        return _to_deployment(deployment)
    return render(
        request,
        "deployments/deployment.html",
        {
            "activation": activation,
            "deployment": deployment,
            "detail": deploy_requests.deployment_detail(deployment),
            "may_decide": may_decide and deployment.is_under_way and activation.is_open,
            "own": False,
        },
    )


@never_cache
@deployment_view(DEPLOYED)
def deployment_confirm(request: HttpRequest) -> HttpResponse:
    """The supporter's own answer, phone-first: two big buttons."""
    activation, deployment, person = request.activation, request.deployment, request.deployed_person
    form = AnswerForm(request.POST or None)
    if request.method == "POST":
        if not form.is_valid():
            messages.error(request, "Tap “I'll go” or “I can't go”.")
        else:
            going = form.cleaned_data["going"] == "yes"
            try:
                person = deploy_requests.deployment_answer(
                    actor=request.user, person=person, going=going, request=request
                )
            except ValidationError as error:
                message_service_error(request, error)
            else:
                if going:
                    messages.success(request, "Thank you: you are confirmed. Your assignments appear under My part.")
                    return redirect(
                        "deployment_confirm", activation_uuid=activation.uuid, deployment_uuid=deployment.uuid
                    )
                messages.success(request, "Thank you: the requester is told you cannot go.")
                return redirect("activation_list")
    return render(
        request,
        "deployments/confirm.html",
        {"activation": activation, "deployment": deployment, "person": person, "form": form},
    )


@never_cache
@agency_view(Role.COORDINATOR)
def agency_deployment_requests(request: HttpRequest) -> HttpResponse:
    """The open deployment requests asked of this agency, each with its offer form (or the agency's open offer,
    which it may withdraw). Any other deployment answers 404."""
    agency = request.tenant
    asking = list(deploy_requests.open_requests_for(agency))
    if request.method == "POST":
        return _agency_post(request, agency, {str(d.uuid): d for d in asking})
    offers = {
        (o.deployment_id): o
        for o in DeploymentOffer.objects.filter(
            deployment__in=asking, agency=agency, status=DeploymentOffer.Status.OFFERED
        ).prefetch_related("people__supporter")
    }
    rows = []
    for deployment in asking:
        deployment.discipline_labels = deploy_requests.discipline_labels(deployment.disciplines)
        offer = offers.get(deployment.pk)
        rows.append(
            {
                "deployment": deployment,
                "offer": offer,
                "candidates": [] if offer else deploy_requests.offer_candidates(deployment, agency),
            }
        )
    return render(request, "deployments/agency_requests.html", {"agency": agency, "rows": rows})


def _agency_post(request: HttpRequest, agency, asking: dict) -> HttpResponse:
    """`asking`: the deployments asking this agency, by uuid; any other answers 404."""
    deployment = asking.get(request.POST.get("deployment", ""))
    if deployment is None:
        raise Http404("Not found.")
    again = redirect("agency_deployment_requests", agency_slug=agency.slug)
    try:
        if request.POST.get("action") == "withdraw":
            offer = DeploymentOffer.objects.filter(
                deployment=deployment, agency=agency, status=DeploymentOffer.Status.OFFERED
            ).first()
            if offer is None:
                raise ValidationError("Your agency has no offer waiting on this deployment.")
            deploy_requests.offer_withdraw(actor=request.user, offer=offer, request=request)
            messages.success(request, "Offer withdrawn.")
            return again
        candidates = deploy_requests.offer_candidates(deployment, agency)
        eligible = {row["membership"].pk: row["membership"] for row in candidates}
        form = OfferForm(request.POST, eligible=eligible)
        if not form.is_valid():
            raise ValidationError(" ".join(m for errors in form.errors.values() for m in errors))
        offered = form.cleaned_data["supporters"]
        deploy_requests.offer_make(
            actor=request.user, deployment=deployment, agency=agency, memberships=offered, request=request
        )
    except ValidationError as error:
        message_service_error(request, error)
    else:
        messages.success(request, f"{len(offered)} supporter{'s' if len(offered) != 1 else ''} offered.")
    return again
