"""Pages of a deployment on site: the rotation planner (coordinators), the check-in page (phone first: the deployed
supporter's own shifts, or every confirmed person's for a coordinator), and the agency coordinators' record of a
deployed supporter's own check as done."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from activations import deploy_site
from activations.access import COORDINATE, DEPLOYED, deployment_view
from activations.deploy_site_forms import ShiftPlanForm, ShiftSwapForm, WellbeingForm
from activations.models import SupporterWellbeing
from agencies.access import agency_view
from agencies.models import Role
from network.service_errors import add_service_errors, message_service_error


def _planner_url(request: HttpRequest) -> str:
    return reverse(
        "deployment_planner",
        kwargs={"activation_uuid": request.activation.uuid, "deployment_uuid": request.deployment.uuid},
    )


@never_cache
@deployment_view(COORDINATE)
def deployment_planner(request: HttpRequest) -> HttpResponse:
    deployment = request.deployment
    deployment.activation = request.activation
    plan = deploy_site.planner(deployment)
    action = request.POST.get("action") if request.method == "POST" else None
    plan_form = ShiftPlanForm(
        request.POST if action == "plan" else None, people=plan["people"], deployment=deployment, prefix="plan"
    )
    swap_form = ShiftSwapForm(
        request.POST if action == "swap" else None,
        swappable=plan["swappable"],
        people=plan["people"],
        prefix="swap",
    )
    if action == "plan" and plan_form.is_valid():
        data = plan_form.cleaned_data
        try:
            shifts = deploy_site.shifts_plan(
                actor=request.user,
                deployment=deployment,
                person=data["person"],
                first_day=data["first_day"],
                days=data["days"],
                start_time=data["start_time"],
                request=request,
            )
        except ValidationError as error:
            add_service_errors(plan_form, error)
        else:
            messages.success(request, f"{len(shifts)} shift{'s' if len(shifts) != 1 else ''} planned.")
            return redirect(_planner_url(request))
    elif action == "swap" and swap_form.is_valid():
        data = swap_form.cleaned_data
        try:
            deploy_site.shift_swap(
                actor=request.user, shift=data["shift"], to_person=data["to_person"], request=request
            )
        except ValidationError as error:
            add_service_errors(swap_form, error)
        else:
            messages.success(request, "Shift swapped.")
            return redirect(_planner_url(request))
    elif action is not None and action not in ("plan", "swap"):
        messages.error(request, "Nothing was changed.")
    return render(
        request,
        "deployments/planner.html",
        {
            "activation": request.activation,
            "deployment": deployment,
            "plan": plan,
            "plan_form": plan_form,
            "swap_form": swap_form,
            "under_way": deployment.status in deploy_site.UNDER_WAY,
        },
    )


def _site_url(request: HttpRequest, step: str = "") -> str:
    url = reverse(
        "deployment_site",
        kwargs={"activation_uuid": request.activation.uuid, "deployment_uuid": request.deployment.uuid},
    )
    return f"{url}?step={step}#wellbeing" if step else url


@never_cache
@deployment_view(COORDINATE, DEPLOYED)
def deployment_site(request: HttpRequest) -> HttpResponse:
    """Check in and check out, one big button. The deployed supporter sees their own shifts only; a coordinator
    (not deployed here) every confirmed person's, to check someone in or out for them."""
    deployment, person = request.deployment, request.deployed_person
    deployment.activation = request.activation
    own = person is not None
    if request.method == "POST":
        return _site_post(request, person if own else None)
    shifts = deploy_site.site_shifts(deployment, person=person if own else None)
    wellbeing = None
    checked_out = False
    if own:
        checked_out = any(s.checked_out_at for s in shifts) or deploy_site.has_checked_out(person)
        wellbeing = deploy_site.wellbeing_of(person) if checked_out else None
    actionable = [s for s in shifts if s.state in ("due", "overdue", "on_site")]
    return render(
        request,
        "deployments/checkin.html",
        {
            "activation": request.activation,
            "deployment": deployment,
            "own": own,
            "person": person,
            "shifts": shifts,
            "current": actionable[0] if own and actionable else None,
            "actionable": actionable,
            "checked_out": checked_out,
            "wellbeing": wellbeing,
            "wellbeing_step": own and checked_out and (request.GET.get("step") == "wellbeing" or wellbeing is None),
            "choices": SupporterWellbeing.Choice.choices,
            "is_coordinator": COORDINATE in request.activation_perms,
            "now": timezone.now(),
        },
    )


def _site_post(request: HttpRequest, person) -> HttpResponse:
    action = request.POST.get("action", "")
    if action == "wellbeing":
        if person is None:
            raise Http404("Not found.")
        form = WellbeingForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Choose one of the three.")
            return redirect(_site_url(request, "wellbeing"))
        try:
            deploy_site.wellbeing_choose(
                actor=request.user, person=person, choice=form.cleaned_data["choice"], request=request
            )
        except ValidationError as error:
            message_service_error(request, error)
            return redirect(_site_url(request))
        messages.success(
            request,
            "Thank you. Your own team's coordinator will be in touch."
            if form.cleaned_data["choice"] != SupporterWellbeing.Choice.NOT_NOW
            else "Noted. You can ask for a defusing or a check-in here later.",
        )
        return redirect(_site_url(request))
    if action not in ("check_in", "check_out"):
        messages.error(request, "Nothing was changed.")
        return redirect(_site_url(request))
    shift = deploy_site.shift_for_site(request.deployment, request.POST.get("shift"), person=person)
    if shift is None:
        raise Http404("Not found.")
    try:
        if action == "check_in":
            done = deploy_site.shift_check_in(actor=request.user, shift=shift, request=request)
            messages.success(request, "Checked in." if done else "Already checked in: nothing changed.")
        else:
            done = deploy_site.shift_check_out(actor=request.user, shift=shift, request=request)
            if done and person is not None:
                messages.success(request, "Checked out. Thank you.")
                return redirect(_site_url(request, "wellbeing"))
            messages.success(request, "Checked out." if done else "Already checked out: nothing changed.")
    except ValidationError as error:
        message_service_error(request, error)
    return redirect(_site_url(request))


@require_POST
@agency_view(Role.COORDINATOR)
def wellbeing_done(request: HttpRequest, wellbeing_id: int) -> HttpResponse:
    """A coordinator of the supporter's home agency: the check with them is done. Another agency's answers 404."""
    wellbeing = SupporterWellbeing.objects.filter(pk=wellbeing_id, home_agency=request.tenant).first()
    if wellbeing is None:
        raise Http404("Not found.")
    try:
        deploy_site.wellbeing_done(actor=request.user, agency=request.tenant, wellbeing=wellbeing, request=request)
    except ValidationError as error:
        message_service_error(request, error)
    else:
        messages.success(request, "Recorded as done.")
    return redirect("followup_list", agency_slug=request.tenant.slug)
