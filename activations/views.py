"""Activation pages (public schema): open, call out, list members, assign, track, close."""

from collections import Counter

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from activations import deploy_requests, deploy_site, selectors, services
from activations.access import (
    COORDINATE,
    DEPLOYED,
    SUMMARY,
    SUPPORT,
    activation_perms_for,
    activation_view,
    deployed_places,
    with_deployed,
    with_grants,
)
from activations.forms import (
    ActivationOpenForm,
    AddAgencyForm,
    AssignForm,
    CalloutAnswerForm,
    MembersAddForm,
    SupporterRequestForm,
)
from activations.models import Activation, ChecklistItem, OutreachTarget, TargetFollowUp
from agencies.access import agency_view
from agencies.models import Agency, Role
from agencies.selectors import memberships_of
from governance.models import Scope
from governance.selectors import agencies_covered_with
from network.access import login_view, network_roles_for, network_view, region_ids_for
from network.audit import AuditAction, audit_record
from network.forms import choices_read_once
from network.models import NetworkRole
from network.selectors import policy_for
from network.service_errors import add_service_errors, message_service_error

SUMMARY_PROTOCOL_KEYS = ("scheduled_follow_ups", "scheduled_follow_ups_done", "checklist_steps", "checklist_steps_done")


def _to_board(activation: Activation):
    return redirect("activation_board", activation_uuid=activation.uuid)


def _open(request: HttpRequest, *, lead_choices, network) -> HttpResponse:
    agency_choices = Agency.objects.filter(network=network, status=Agency.Status.ACTIVE).order_by("name")
    leads = list(lead_choices)
    lead = leads[0] if len(leads) == 1 else None
    if lead is not None:
        # Only agencies an agreement in force lets join this lead; the service re-checks either way.
        agency_choices = agency_choices.filter(pk__in=agencies_covered_with(lead, Scope.JOINT_ACTIVATION)).exclude(
            pk=lead.pk
        )
    form = ActivationOpenForm(
        request.POST or None, lead_choices=lead_choices, only_lead=lead, agency_choices=agency_choices
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            activation = services.activation_open(
                actor=request.user,
                lead_agency=data["lead_agency"],
                incident_type=data["incident_type"],
                name=data["name"],
                occurred_at=data["occurred_at"],
                location=data["location"],
                participating=list(data["participating"]),
                request=request,
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, "Activation opened. Call out the team, then add the affected members.")
            return _to_board(activation)
    return render(request, "activations/open.html", {"form": form})


@agency_view(Role.COORDINATOR)
def activation_open_for_agency(request: HttpRequest) -> HttpResponse:
    lead = Agency.objects.filter(pk=request.tenant.pk)
    return _open(request, lead_choices=lead, network=request.tenant.network)


@network_view(NetworkRole.Role.STATE_ADMIN, NetworkRole.Role.REGIONAL_COORDINATOR)
def activation_open_for_network(request: HttpRequest) -> HttpResponse:
    network = request.network_roles[0].network
    leads = Agency.objects.filter(network=network, status=Agency.Status.ACTIVE).order_by("name")
    region_ids = region_ids_for(request)
    if region_ids is not None:
        leads = leads.filter(region_id__in=region_ids)
    return _open(request, lead_choices=leads, network=network)


@login_view
def activation_list(request: HttpRequest) -> HttpResponse:
    rows = [
        # Leadership opens an activation only once it is closed (its summary is frozen then).
        (
            a,
            a.status == Activation.Status.CLOSED
            or bool(
                activation_perms_for(request.user, a, granted=a.granted or [], deployed_as=a.deployed_as)
                & {COORDINATE, SUPPORT, DEPLOYED}
            ),
        )
        for a in with_deployed(with_grants(selectors.activations_for_user(request.user), request.user), request.user)
    ]
    # The user's deployments (issue 19): waiting for their own "I'll go", or confirmed (the way to check in).
    asks = deploy_requests.open_deployment_asks_of(request.user)
    return render(
        request, "activations/list.html", {"rows": rows, "deployment_asks": asks, **_list_scope(request.user)}
    )


def _list_scope(user) -> dict:
    """What the activation list holds for this user, in words (a network role sees activations it has not
    joined), and where they may open one: for each agency they coordinate, and from the network page."""
    memberships = memberships_of(user)
    network_roles = network_roles_for(user, (NetworkRole.Role.STATE_ADMIN, NetworkRole.Role.REGIONAL_COORDINATOR))
    granted = (Role.COORDINATOR, Role.PEER_SUPPORTER, Role.CHIEF)  # the role groups activations grant to
    scope = ["activations your agencies take part in"] if any(m.role in granted for m in memberships) else []
    for role in network_roles:
        if role.role == NetworkRole.Role.STATE_ADMIN:
            scope.append("every activation in the network, as state admin")
        else:
            scope.append(f"every activation led by an agency of the {role.region.name} region, as its coordinator")
    open_links = [("Open an activation", reverse("network_activation_open"))] if network_roles else []
    coordinated = [m.agency for m in memberships if m.role == Role.COORDINATOR]
    for agency in coordinated:
        label = "Open an activation" if len(coordinated) == 1 and not open_links else f"Open one for {agency.name}"
        open_links.append((label, reverse("agency_activation_open", kwargs={"agency_slug": agency.slug})))
    return {"scope": scope, "open_links": open_links}


@activation_view(COORDINATE, SUPPORT, SUMMARY, DEPLOYED)
def activation_home(request: HttpRequest) -> HttpResponse:
    held, activation = request.activation_perms, request.activation
    if COORDINATE in held:
        return _to_board(activation)
    if SUPPORT in held:
        return redirect("activation_mine", activation_uuid=activation.uuid)
    if DEPLOYED in held:  # accepted on a deployment, not yet confirmed (issue 19): their answer first
        place = deployed_places(request.user).filter(deployment__activation=activation).select_related("deployment")
        deployment = place.first().deployment
        return redirect("deployment_confirm", activation_uuid=activation.uuid, deployment_uuid=deployment.uuid)
    if activation.status != Activation.Status.CLOSED:
        raise Http404("Not found.")  # leadership sees an activation's summary once it is closed
    return redirect("activation_summary", activation_uuid=activation.uuid)


def _board_context(request: HttpRequest) -> dict:
    """What both the board and its live part show."""
    activation = request.activation
    try:
        agency_id = int(request.GET.get("agency") or 0) or None
        hours = max(1, min(int(request.GET.get("hours") or selectors.DEFAULT_NO_CONTACT_HOURS), 168))
    except ValueError:
        agency_id, hours = None, selectors.DEFAULT_NO_CONTACT_HOURS
    status = request.GET.get("status", "")
    if status not in OutreachTarget.Status.values:
        status = ""
    board = selectors.board(activation, agency_id=agency_id, status=status, no_contact_hours=hours)
    agencies = selectors.participating_agencies(activation)
    return {
        "activation": activation,
        "board": board,
        "follow_ups": board["follow_ups"],
        "agencies": agencies,
        "filters": {"agency": agency_id, "status": status, "hours": hours},
        "statuses": OutreachTarget.Status.choices,
        "query": request.GET.urlencode(),
        "today": timezone.localdate(),
    }


def _board_inline() -> dict:
    """What the board reads in the activation's own statement: its checklist, its deployments, who is on site,
    due or overdue on those under way, and the fingerprint of its live parts (so its first poll can be a 204)."""
    return {
        **selectors.checklist_inline(),
        **deploy_requests.deployments_inline(),
        **deploy_site.board_deployments_inline(),
        **selectors.board_stamp_inline(),
    }


def _board_version(request: HttpRequest) -> str:
    return selectors.board_version(request.activation, perms=request.activation_perms, query=request.GET.urlencode())


@never_cache
@activation_view(COORDINATE, annotate=_board_inline)
def activation_board(request: HttpRequest) -> HttpResponse:
    context = _board_context(request)
    audit_record(action=AuditAction.ACTIVATION_VIEWED, actor=request.user, obj=request.activation, request=request)
    context["checklist"] = selectors.checklist(request.activation)
    context["checklist_counts"] = Counter(row["state"] for row in context["checklist"])
    context["default_hours"] = selectors.DEFAULT_NO_CONTACT_HOURS
    context["deployments"] = deploy_requests.deployments_of(request.activation)
    context["site_deployments"] = deploy_site.board_deployments(request.activation)
    context["may_request_deployment"] = request.activation.is_open and deploy_requests.may_request_deployment(
        request.user, request.activation
    )
    # The version of the live parts drawn here: the board's first poll sends it back (static/muster/board_live.js).
    context["board_version"] = _board_version(request)
    response = render(request, "activations/board.html", context)
    response["X-Muster-Board-Version"] = context["board_version"]
    return response


@never_cache
@activation_view(COORDINATE, annotate=selectors.board_stamp_inline)
def activation_board_live(request: HttpRequest) -> HttpResponse:
    """The parts of the board htmx refreshes every 5 seconds. The poll sends the version of what it shows
    (static/muster/board_live.js); while nothing the board is drawn from has changed, the answer is 204 No Content,
    which htmx leaves in place, with the time of the check. Nothing of the board is kept anywhere to do this: the
    version is computed afresh from the rows (`selectors.board_version`), and the page stays uncacheable."""
    version = _board_version(request)
    if request.headers.get("X-Muster-Board-Version") == version:
        response = HttpResponse(status=204)
    else:
        context = _board_context(request)
        context["site_deployments"] = deploy_site.board_deployments(request.activation)
        response = render(request, "activations/_board_live.html", context)
    response["X-Muster-Board-Version"] = version
    response["X-Muster-Checked"] = timezone.localtime().strftime("%H:%M:%S")
    return response


@activation_view(COORDINATE, SUMMARY)
def activation_summary(request: HttpRequest) -> HttpResponse:
    """Coordinators: the live numbers, exact. Leadership (the summary permission without coordinate):
    nothing while the activation runs, then the version frozen at close (a live summary would show one
    member's status change)."""
    activation = request.activation
    closed = activation.status == Activation.Status.CLOSED
    statuses = OutreachTarget.Status
    if COORDINATE in request.activation_perms:
        summary = activation.summary if closed else selectors.after_action_summary(activation)
        # Summaries saved before protocols existed lack these counts.
        summary = {**dict.fromkeys(SUMMARY_PROTOCOL_KEYS, 0), **summary}
        return render(
            request,
            "activations/summary.html",
            {
                "activation": activation,
                "summary": summary,
                "by_status": [(s.label, summary["by_status"].get(s.value, 0)) for s in statuses],
                "participating": [agency.name for agency in selectors.participating_agencies(activation)],
                "suppressed": False,
                "threshold": policy_for(activation.network).suppression_threshold,
            },
        )
    if not closed:
        raise Http404("Not found.")
    published = activation.summary.get("published") or selectors.leadership_summary(
        # Closed before summaries were frozen: the same engine over the summary saved at close.
        {**dict.fromkeys(SUMMARY_PROTOCOL_KEYS, 0), **activation.summary},
        threshold=policy_for(activation.network).suppression_threshold,
    )
    labels = dict(statuses.choices)
    participating = published.get("participating")
    if participating is None:
        participating = [agency.name for agency in selectors.participating_agencies(activation)]
    return render(
        request,
        "activations/summary.html",
        {
            "activation": activation,
            "summary": published,
            "by_status": [(labels[status], count) for status, count in published["by_status"]],
            "participating": participating,
            "suppressed": True,
            "threshold": published["threshold"],
        },
    )


@never_cache
@activation_view(COORDINATE)
def members_add(request: HttpRequest) -> HttpResponse:
    activation = request.activation
    agencies = Agency.objects.filter(
        pk__in=[a.pk for a in selectors.participating_agencies(activation)], status=Agency.Status.ACTIVE
    )
    own = agencies.filter(memberships__user=request.user, memberships__is_active=True).first()
    form = MembersAddForm(
        request.POST or None,
        agencies=agencies,
        initial={"home_agency": own, "exposure": OutreachTarget.Exposure.DIRECT},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            entries = services.parse_member_lines(data["pasted"]) if data["pasted"].strip() else []
            if data["name"].strip():
                entries.insert(0, (" ".join(data["name"].split()), data["role"].strip()))
            added = services.targets_add(
                actor=request.user,
                activation=activation,
                home_agency=data["home_agency"],
                entries=entries,
                exposure=data["exposure"],
                request=request,
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            flagged = sum(1 for t in added if t.possible_duplicate_of_id)
            note = f" {flagged} flagged as a possible duplicate: merge or keep on the board." if flagged else ""
            messages.success(request, f"{len(added)} affected member{'s' if len(added) != 1 else ''} added.{note}")
            return _to_board(activation)
    return render(request, "activations/members_add.html", {"form": form, "activation": activation})


def _target(request: HttpRequest, target_uuid) -> OutreachTarget:
    target = (
        OutreachTarget.objects.select_related("activation", "home_agency", "assigned_supporter", "assigned_agency")
        .filter(uuid=target_uuid, activation=request.activation)
        .first()
    )
    if target is None:
        raise Http404("Not found.")
    return target


def _people(candidates: list[dict]) -> list[dict]:
    """The assign page's choices grouped by person: someone in two participating agencies is shown once,
    with the agency as the choice."""
    people: dict[int, dict] = {}
    for pair in candidates:
        person = people.setdefault(pair["user"].pk, {**pair, "options": []})
        person["options"].append(pair)
    return list(people.values())


@never_cache
@activation_view(COORDINATE)
def target_assign(request: HttpRequest, target_uuid) -> HttpResponse:
    if not request.activation.is_open:
        raise Http404("Not found.")
    target = _target(request, target_uuid)
    candidates = selectors.assignable_supporters(request.activation, target)
    form = AssignForm(request.POST or None, candidates=candidates)
    if request.method == "POST":
        again = redirect("activation_target_assign", activation_uuid=request.activation.uuid, target_uuid=target.uuid)
        if not form.is_valid():
            messages.error(request, " ".join(m for errors in form.errors.values() for m in errors))
            return again
        chosen = form.cleaned_data["supporter"]
        try:
            if form.cleaned_data["supervises"]:
                # Declared first, so the assignment below is refused with the reason, and stays refused.
                target = services.target_supervisor_declare(
                    actor=request.user, target=target, supporter=chosen["user"], request=request
                )
            services.target_assign(
                actor=request.user,
                target=target,
                supporter=chosen["user"],
                agency=chosen["agency"],
                expected_supporter_id=form.cleaned_data["expected_supporter"],
                request=request,
            )
        except ValidationError as error:
            message_service_error(request, error)
            return again
        messages.success(request, f"Assigned to {chosen['user'].get_full_name()} ({chosen['agency'].name}).")
        return _to_board(request.activation)
    return render(
        request,
        "activations/assign.html",
        {"activation": request.activation, "target": target, "people": _people(candidates)},
    )


@require_POST
@activation_view(COORDINATE)
def target_supporter_request(request: HttpRequest, target_uuid) -> HttpResponse:
    """The member asked to change their supporter, or to add one: kept in the timeline (issue 18)."""
    if not request.activation.is_open:
        raise Http404("Not found.")
    target = _target(request, target_uuid)
    form = SupporterRequestForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose change or add.")
    else:
        change = form.cleaned_data["request"] == "change"
        try:
            services.target_supporter_request(actor=request.user, target=target, change=change, request=request)
        except ValidationError as error:
            message_service_error(request, error)
        else:
            messages.success(
                request,
                "Recorded. Assign the member's new supporter."
                if change
                else "Recorded. Add the second supporter as co-supporter when the contact is logged.",
            )
    return redirect("activation_target_assign", activation_uuid=request.activation.uuid, target_uuid=target.uuid)


@require_POST
@activation_view(COORDINATE)
def target_duplicate(request: HttpRequest, target_uuid) -> HttpResponse:
    target = _target(request, target_uuid)
    try:
        if request.POST.get("decision") == "merge":
            services.target_merge(actor=request.user, target=target, request=request)
            messages.success(request, "Merged: the member appears once.")
        else:
            services.target_keep_separate(actor=request.user, target=target, request=request)
            messages.success(request, "Kept as a different person.")
    except ValidationError as error:
        message_service_error(request, error)
    return _to_board(request.activation)


@require_POST
@activation_view(COORDINATE, SUPPORT)
def target_outreach(request: HttpRequest, target_uuid) -> HttpResponse:
    target = _target(request, target_uuid)
    if COORDINATE not in request.activation_perms and target.assigned_supporter_id != request.user.pk:
        raise Http404("Not found.")
    try:
        services.outreach_update(
            actor=request.user, target=target, status=request.POST.get("status", ""), request=request
        )
    except ValidationError as error:
        message_service_error(request, error)
    else:
        messages.success(request, "Outreach updated.")
    if COORDINATE in request.activation_perms:
        return _to_board(request.activation)
    return redirect("activation_mine", activation_uuid=request.activation.uuid)


@require_POST
@activation_view(COORDINATE)
def checklist_done(request: HttpRequest, item_id: int) -> HttpResponse:
    item = get_object_or_404(ChecklistItem, activation=request.activation, pk=item_id)
    try:
        services.checklist_item_done(actor=request.user, item=item, request=request)
    except ValidationError as error:
        message_service_error(request, error)
    else:
        messages.success(request, f"Done: {item.title}.")
    return _to_board(request.activation)


@require_POST
@activation_view(COORDINATE, SUPPORT)
def follow_up_done(request: HttpRequest, target_uuid, follow_up_id: int) -> HttpResponse:
    target = _target(request, target_uuid)
    coordinator = COORDINATE in request.activation_perms
    if not coordinator and target.assigned_supporter_id != request.user.pk:
        raise Http404("Not found.")
    follow_up = get_object_or_404(TargetFollowUp, target=target, pk=follow_up_id)
    try:
        services.target_follow_up_done(
            actor=request.user, follow_up=follow_up, coordinator=coordinator, request=request
        )
    except ValidationError as error:
        message_service_error(request, error)
    else:
        messages.success(request, f"The {follow_up.days_after}-day follow-up is recorded as done.")
    if coordinator:
        return _to_board(request.activation)
    return redirect("activation_mine", activation_uuid=request.activation.uuid)


@never_cache
@activation_view(SUPPORT)
def activation_mine(request: HttpRequest) -> HttpResponse:
    activation = request.activation
    callout = selectors.callout_of(activation, request.user)
    form = CalloutAnswerForm(
        request.POST or None,
        initial={
            "answer": callout.answer if callout and callout.answer != "pending" else None,
            "involved": callout.involved if callout else False,
            "supervises": callout.supervises_affected if callout else False,
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.callout_answer(
                supporter=request.user,
                activation=activation,
                answer=form.cleaned_data["answer"],
                involved=form.cleaned_data["involved"],
                supervises=form.cleaned_data["supervises"],
                request=request,
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, "Thank you: your coordinator sees your answer.")
            return redirect("activation_mine", activation_uuid=activation.uuid)
    assignments = selectors.assignments_of(activation, request.user)
    scheduled = selectors.follow_ups_of(assignments)
    for target in assignments:
        target.scheduled = scheduled[target.pk]
    if assignments:
        audit_record(action=AuditAction.ACTIVATION_VIEWED, actor=request.user, obj=activation, request=request)
    # A deployed supporter's way to this deployment's check-in page (issue 19).
    places = []
    if DEPLOYED in request.activation_perms:
        places = [
            p
            for p in deploy_requests.open_deployment_asks_of(request.user)
            if p.deployment.activation_id == activation.pk
        ]
    return render(
        request,
        "activations/mine.html",
        {
            "deployment_places": places,
            "activation": activation,
            "callout": callout,
            "form": form,
            "assignments": assignments,
            "today": timezone.localdate(),
        },
    )


@never_cache
@activation_view(COORDINATE)
def agencies_add(request: HttpRequest) -> HttpResponse:
    """Another agency joins the open activation: one an agreement in force covers with the lead agency. Its own page,
    not a form on the board: the board is drawn every time a coordinator opens it, this list only when wanted."""
    activation = request.activation
    form = AddAgencyForm(request.POST or None, agencies=selectors.agencies_may_join(activation))
    offered = choices_read_once(form.fields["agency"])
    if request.method == "POST" and form.is_valid():
        agency = form.cleaned_data["agency"]
        try:
            services.activation_add_agency(actor=request.user, activation=activation, agency=agency, request=request)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"{agency.name} joined the activation.")
            return redirect("activation_board", activation_uuid=activation.uuid)
    return render(
        request, "activations/agencies_add.html", {"activation": activation, "form": form, "offered": offered}
    )


@require_POST
@activation_view(COORDINATE)
def activation_action(request: HttpRequest, action: str) -> HttpResponse:
    activation = request.activation
    try:
        if action == "callout":
            sent = services.callout_send(actor=request.user, activation=activation, request=request)
            messages.success(request, f"Callout sent to {sent} supporter{'s' if sent != 1 else ''}.")
        elif action == "resend":
            sent = services.callout_resend(actor=request.user, activation=activation, request=request)
            messages.success(request, f"Callout texted again to {sent} supporter{'s' if sent != 1 else ''}.")
        elif action == "demobilize":
            services.activation_demobilize(actor=request.user, activation=activation, request=request)
            messages.success(request, "Demobilized: no new members or assignments; outreach continues.")
        elif action == "close":
            if request.POST.get("confirm") != "yes":
                raise ValidationError("Tick the box to confirm: closing ends the activation for every agency.")
            services.activation_close(actor=request.user, activation=activation, request=request)
            messages.success(request, "Closed. The after-action summary is saved.")
            return redirect("activation_summary", activation_uuid=activation.uuid)
        else:
            raise Http404("Not found.")
    except ValidationError as error:
        message_service_error(request, error)
    return _to_board(activation)
