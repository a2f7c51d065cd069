"""Encounter log, follow-ups and disclosures: pages under /a/<slug>/ (the agency's schema is active)."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from activations import deploy_site as activation_deploy_site
from activations import selectors as activation_selectors
from activations import services as activation_services
from agencies.access import agency_view
from agencies.models import Role
from encounters import selectors, services
from encounters.forms import (
    DisclosureFilterForm,
    DisclosureForm,
    EncounterFilterForm,
    EncounterForm,
    FollowUpCompleteForm,
    FollowUpFilterForm,
    FollowUpReassignForm,
    NoticeSentForm,
    ReferralMakeForm,
    ReferralSearchForm,
    ReferralUpdateForm,
    outreach_initial,
    referral_search_initial,
    request_initial,
)
from encounters.models import CheckIn
from governance.models import ResourceEntry
from governance.selectors import resources_suggested
from members import selectors as member_selectors
from network.access import public_view
from network.audit import AuditAction, audit_record
from network.models import Vocabulary
from network.paging import page_of
from network.privilege import profile_of
from network.selectors import policy_for, standard_current, terms_by_vocabulary
from network.service_errors import add_service_errors, message_service_error

SUPPORTERS = (Role.PEER_SUPPORTER, Role.COORDINATOR)
CONFIDENTIAL_READERS = (Role.COORDINATOR, Role.CLINICIAN)
SUGGESTIONS = 10  # entries the referral step offers
# Referral codes after which saving an encounter goes on to the referral step (a team clinician referral is
# addressed inside the team, on the form itself).
REFER_STEP_AFTER = frozenset({"eap", "chaplain", "crisis-line"})


def _labels(standard) -> dict[str, dict[str, str]]:
    return {vocab: {t.code: t.label for t in terms} for vocab, terms in terms_by_vocabulary(standard).items()}


def _filters(form) -> dict:
    """A list's filters: what validated; a filter that does not is shown back with its error and not applied."""
    if not form.is_bound:
        return {}
    form.is_valid()
    return {name: value for name, value in form.cleaned_data.items() if name not in form.errors}


@never_cache
@agency_view(*SUPPORTERS)
def encounter_new(request: HttpRequest) -> HttpResponse:
    """The encounter form. Sent no-store (never_cache) and with autocomplete off, so Back after saving shows a
    fresh form rather than the saved one, note included, under a new submission key (issue 13)."""
    agency = request.tenant
    standard = standard_current(agency.network)
    policy = policy_for(agency.network)
    outreach_uuid = request.GET.get("outreach")
    outreach = None
    if outreach_uuid:
        try:
            outreach = activation_selectors.target_for_contact(
                user=request.user, agency=agency, target_uuid=outreach_uuid
            )
        except (ValidationError, ValueError):
            if request.method != "POST":
                messages.error(
                    request, "That activation assignment is not yours in this agency, or the activation is closed."
                )
    member_request = None
    request_uuid = request.GET.get("request")
    if request_uuid and not outreach:
        try:
            member_request = member_selectors.request_for_contact(
                user=request.user, agency=agency, request_uuid=request_uuid
            )
        except (ValidationError, ValueError):
            if request.method != "POST":
                messages.error(request, "That request is not given to you in this agency, or it is closed.")
    initial = outreach_initial(outreach, agency) if outreach else {}
    if member_request is not None:
        initial = request_initial(member_request, agency, member_selectors.relation_of(member_request, agency))
    form = EncounterForm(
        request.POST or None,
        initial=initial,
        checkin_days=policy.checkin_days,
        agency=agency,
        user=request.user,
        standard=standard,
        notes_enabled=policy.notes_enabled,
        notes_retention_days=policy.notes_retention_days,
        activation_fixed=outreach is not None,
        no_session_content=profile_of(policy).no_session_content,
    )
    if form.is_bound and form.is_valid():
        # The posted assignment decides what the contact is for; the address only prefilled the form.
        outreach = None
        if form.cleaned_data.get("outreach_target"):
            outreach = _outreach_target_or_error(form, request, agency)
        member_request = None
        if form.cleaned_data.get("peer_request") and not outreach:
            member_request = _member_request_or_error(form, request, agency)
    if request.method == "POST" and form.is_valid() and not form.errors:
        try:
            encounter, created = services.encounter_log(
                author=request.user,
                agency=agency,
                standard=standard,
                request=request,
                outreach_target=outreach,
                member_request=member_request,
                **form.service_arguments(),
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            if created:
                messages.success(request, "Encounter saved.")
            else:
                messages.info(request, "This encounter was already saved; it was not saved twice.")
            if encounter.escalation and not encounter.disclosures.exists():
                return redirect("encounter_disclosure_new", agency_slug=agency.slug, encounter_uuid=encounter.uuid)
            if created and encounter.referral in REFER_STEP_AFTER:
                # The referral step: the directory searched for this member, suggestions first.
                return redirect("encounter_refer", agency_slug=agency.slug, encounter_uuid=encounter.uuid)
            return redirect("encounter_detail", agency_slug=agency.slug, encounter_uuid=encounter.uuid)
    return render(
        request,
        "encounters/encounter_form.html",
        {
            "form": form,
            "offers": form.offers,  # read before the page draws the clinicians' list (one statement for both)
            "standard": standard,
            "outreach": outreach,
            "member_request": member_request,
            "notice": policy.confidentiality_notice_text,
            "error_summary": form.error_summary() if form.is_bound else [],
        },
    )


def _member_request_or_error(form, request, agency):
    try:
        return member_selectors.request_for_contact(
            user=request.user, agency=agency, request_uuid=form.cleaned_data["peer_request"]
        )
    except ValidationError as error:
        add_service_errors(form, error)
        return None


def _outreach_target_or_error(form, request, agency):
    try:
        return activation_selectors.target_for_contact(
            user=request.user, agency=agency, target_uuid=form.cleaned_data["outreach_target"]
        )
    except ValidationError as error:
        add_service_errors(form, error)
        return None


@never_cache
@agency_view(Role.PEER_SUPPORTER, Role.COORDINATOR, Role.CLINICIAN)
def encounter_list(request: HttpRequest) -> HttpResponse:
    membership = request.membership
    form = EncounterFilterForm(
        request.GET or None, agency=request.tenant, with_supporter=membership.role == Role.COORDINATOR
    )
    encounters = selectors.encounters_filtered(selectors.encounters_visible_to(membership), _filters(form))
    page = page_of(request, encounters.select_related("standard").order_by("-occurred_on", "-created_at", "-pk"))
    title = {
        Role.PEER_SUPPORTER: "My encounters",
        Role.COORDINATOR: "Team encounters",
        Role.CLINICIAN: "Referrals to me",
    }[membership.role]
    labels_of = {}  # one vocabulary read per documentation standard on the page, not one per row
    rows = []
    for encounter in page:
        if encounter.standard_id not in labels_of:
            labels_of[encounter.standard_id] = _labels(encounter.standard)
        labels = labels_of[encounter.standard_id]
        rows.append(
            {
                "encounter": encounter,
                "mode": labels[Vocabulary.CONTACT_MODE].get(encounter.contact_mode, encounter.contact_mode),
                "topics": [labels[Vocabulary.TOPIC].get(code, code) for code in encounter.topics],
                "referral": labels[Vocabulary.REFERRAL].get(encounter.referral, encounter.referral),
            }
        )
    return render(request, "encounters/encounter_list.html", {"rows": rows, "title": title, "page": page, "form": form})


@never_cache
@agency_view(Role.PEER_SUPPORTER, Role.COORDINATOR, Role.CLINICIAN)
def encounter_detail(request: HttpRequest, encounter_uuid) -> HttpResponse:
    encounter, level = selectors.encounter_for_viewer(request.membership, encounter_uuid)
    audit_record(
        action=AuditAction.ENCOUNTER_VIEWED, actor=request.user, agency=request.tenant, obj=encounter, request=request
    )
    labels = _labels(encounter.standard)
    follow_ups = list(encounter.follow_ups.select_related("owner", "referral__resource"))
    context = {
        "encounter": encounter,
        "full": level == selectors.FULL,
        "fields": [
            ("Date", encounter.occurred_on.isoformat()),
            ("How long", labels[Vocabulary.DURATION_BAND].get(encounter.duration_band, encounter.duration_band)),
            ("How", labels[Vocabulary.CONTACT_MODE].get(encounter.contact_mode, encounter.contact_mode)),
            ("Who reached out", labels[Vocabulary.INITIATOR].get(encounter.initiator, encounter.initiator)),
            ("Topics", ", ".join(labels[Vocabulary.TOPIC].get(c, c) for c in encounter.topics)),
            ("Intervention", ", ".join(labels[Vocabulary.INTERVENTION].get(c, c) for c in encounter.interventions)),
            ("Member is from", labels[Vocabulary.RECIPIENT_RELATION].get(encounter.recipient_relation, "")),
            ("Member's discipline", labels[Vocabulary.RECIPIENT_DISCIPLINE].get(encounter.recipient_discipline, "")),
            ("Member's role", labels[Vocabulary.ROLE_CLASS].get(encounter.role_class, encounter.role_class)),
            ("Visit", str(encounter.visit_number)),
            ("Referral", labels[Vocabulary.REFERRAL].get(encounter.referral, encounter.referral)),
            ("Confidentiality limits explained", "Yes" if encounter.confidentiality_notice_given else "No"),
            ("Escalation", "Yes" if encounter.escalation else "No"),
            ("Part of an activation", encounter.activation.name if encounter.activation else "None"),
            ("Logged under", f"Documentation standard v{encounter.standard.version}"),
        ],
        "follow_ups": follow_ups,
        "can_disclose": request.membership.role == Role.COORDINATOR or level == selectors.FULL,
        "is_coordinator": request.membership.role == Role.COORDINATOR,
        # The member's check-in answers belong to them and their supporter: nobody else is shown them.
        "checkins": selectors.checkins_of_encounter(encounter, request.user),
        # Every referral is a follow-up's: read with them, in the same statement.
        "referrals": sorted((f.referral for f in follow_ups if hasattr(f, "referral")), key=lambda r: r.created_at),
        "can_refer": request.membership.role == Role.COORDINATOR
        or (request.membership.role == Role.PEER_SUPPORTER and level == selectors.FULL),
    }
    return render(request, "encounters/encounter_detail.html", context)


@never_cache
@public_view
def checkin_answer(request: HttpRequest, checkin_token: str) -> HttpResponse:
    """The check-in link's page: GET only shows the buttons (a link scanner records nothing); a POST records the
    answer, or stops every check-in. Unknown, altered or expired links get the same neutral page."""
    found = selectors.checkin_for_token(checkin_token)
    if found is None:
        return render(request, "encounters/checkin.html", {"gone": True}, status=404)
    agency, checkin = found
    answered = None
    if request.method == "POST":
        if request.POST.get("stop") == "all":
            services.checkins_stop(agency=agency, plan=checkin.plan)
            return render(request, "encounters/checkin.html", {"stopped": True})
        answer = request.POST.get("answer", "")
        if answer in CheckIn.Answer.values:
            checkin = services.checkin_answer(agency=agency, checkin=checkin, answer=answer)
            answered = answer
    return render(
        request,
        "encounters/checkin.html",
        {
            "checkin": checkin,
            "answered": answered,
            "answers": CheckIn.Answer.choices,
            "address": member_selectors.address_of(agency),  # the agency's crisis resources, after 988
        },
    )


@require_POST
@agency_view(Role.COORDINATOR)
def encounter_legal_hold(request: HttpRequest, encounter_uuid) -> HttpResponse:
    encounter, _level = selectors.encounter_for_viewer(request.membership, encounter_uuid)
    hold = request.POST.get("hold") == "on"
    services.encounter_set_legal_hold(
        actor=request.user, agency=request.tenant, encounter=encounter, hold=hold, request=request
    )
    messages.success(request, "Legal hold set: notes will not be purged." if hold else "Legal hold lifted.")
    return redirect("encounter_detail", agency_slug=request.tenant.slug, encounter_uuid=encounter.uuid)


# --- Follow-ups ------------------------------------------------------------------------------------


@never_cache
@agency_view(*SUPPORTERS)
def followup_list(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    mine = selectors.follow_ups_of_supporter(request.membership)
    context = {
        "overdue": [f for f in mine.open if f.due_on < today],
        "due_today": [f for f in mine.open if f.due_on == today],
        "upcoming": [f for f in mine.open if f.due_on > today],
        "done": mine.done,
        "scheduled_done": mine.scheduled_done,
        "complete_form": FollowUpCompleteForm(),
        "today": today,
    }
    if request.membership.role == Role.COORDINATOR:
        # The team's supporters, each with their own deployment wellbeing checks (issue 19), in one statement.
        form = FollowUpFilterForm(
            request.GET or None,
            agency=request.tenant,
            annotate_owners=activation_deploy_site.wellbeing_inline(request.tenant),
        )
        filters = _filters(form)
        page = page_of(request, selectors.follow_ups_of_team_filtered(filters))
        context["team"] = page
        context["page"] = page
        context["filter_form"] = form
        # The activations' scheduled follow-ups held through this agency stay below the team's open ones.
        if (filters.get("status") or "open") in ("open", "overdue") and not page.has_next():
            scheduled = activation_selectors.scheduled_follow_ups_open(agency=request.tenant)
            if filters.get("status") == "overdue":
                scheduled = scheduled.filter(due_on__lt=today)
            if filters.get("owner"):
                scheduled = scheduled.filter(target__assigned_supporter=filters["owner"])
            context["team_scheduled"] = scheduled
        # The owner choices, read once for the page (read per row, they cost one query per follow-up): the
        # team's supporters, which the filter's owner list already holds.
        context["owner_choices"] = [(value, label) for value, label in form.fields["owner"].choices if value]
        # The agency's own supporters back from a deployment who asked for a defusing or a check-in (issue 19).
        context["deployed_wellbeing"] = activation_deploy_site.wellbeing_open(form.owners)
    return render(request, "encounters/followup_list.html", context)


@require_POST
@agency_view(*SUPPORTERS)
def followup_scheduled_done(request: HttpRequest, follow_up_id: int) -> HttpResponse:
    """An activation's scheduled follow-up, done from "My follow-ups" by the supporter holding the member."""
    follow_up = selectors.scheduled_follow_up_of(request.membership, follow_up_id)
    try:  # refused before the member's first contact is logged (the service says so)
        activation_services.target_follow_up_done(
            actor=request.user, follow_up=follow_up, coordinator=False, request=request
        )
    except ValidationError as error:
        message_service_error(request, error)
    else:
        messages.success(request, f"The {follow_up.days_after}-day follow-up is recorded as done.")
    return redirect("followup_list", agency_slug=request.tenant.slug)


@require_POST
@agency_view(*SUPPORTERS)
def followup_complete(request: HttpRequest, follow_up_uuid) -> HttpResponse:
    follow_up = selectors.follow_up_for_owner_or_coordinator(request.membership, follow_up_uuid)
    form = FollowUpCompleteForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose an outcome to complete the follow-up.")
    else:
        services.followup_complete(
            actor=request.user,
            agency=request.tenant,
            follow_up=follow_up,
            outcome=form.cleaned_data["outcome"],
            request=request,
        )
        messages.success(request, "Follow-up completed.")
    return redirect("followup_list", agency_slug=request.tenant.slug)


@require_POST
@agency_view(Role.COORDINATOR)
def followup_reassign(request: HttpRequest, follow_up_uuid) -> HttpResponse:
    follow_up = selectors.follow_up_for_owner_or_coordinator(request.membership, follow_up_uuid)
    form = FollowUpReassignForm(request.POST, agency=request.tenant)
    if not form.is_valid():
        messages.error(request, "Choose a peer supporter or coordinator of this agency.")
    else:
        try:
            services.followup_reassign(
                actor=request.user,
                agency=request.tenant,
                follow_up=follow_up,
                owner=form.cleaned_data["owner"],
                request=request,
            )
        except ValidationError as error:
            message_service_error(request, error)
        else:
            messages.success(request, f"Follow-up now owned by {form.cleaned_data['owner'].get_full_name()}.")
    return redirect("followup_list", agency_slug=request.tenant.slug)


# --- Disclosures -----------------------------------------------------------------------------------


@never_cache
@agency_view(*SUPPORTERS)
def disclosure_new(request: HttpRequest, encounter_uuid) -> HttpResponse:
    encounter, level = selectors.encounter_for_viewer(request.membership, encounter_uuid)
    if level != selectors.FULL and request.membership.role != Role.COORDINATOR:
        raise Http404("Not found.")
    form = DisclosureForm(request.POST or None, initial={"disclosed_at": timezone.localtime().replace(second=0)})
    if request.method == "POST" and form.is_valid():
        try:
            services.disclosure_record(
                actor=request.user, agency=request.tenant, encounter=encounter, request=request, **form.cleaned_data
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, "Disclosure recorded. Your coordinator and clinician can see it.")
            return redirect("encounter_detail", agency_slug=request.tenant.slug, encounter_uuid=encounter.uuid)
    return render(request, "encounters/disclosure_form.html", {"form": form, "encounter": encounter})


@never_cache
@agency_view(*CONFIDENTIAL_READERS)
def disclosure_list(request: HttpRequest) -> HttpResponse:
    form = DisclosureFilterForm(request.GET or None)
    page = page_of(request, selectors.disclosures_filtered(selectors.disclosures_all(), _filters(form)))
    audit_record(
        action=AuditAction.DISCLOSURE_VIEWED,
        actor=request.user,
        agency=request.tenant,
        object_type="encounters.disclosurerecord",
        object_id="list",
        request=request,
    )
    return render(request, "encounters/disclosure_list.html", {"records": page, "page": page, "form": form})


@never_cache
@agency_view(*CONFIDENTIAL_READERS)
def disclosure_detail(request: HttpRequest, disclosure_uuid) -> HttpResponse:
    record = selectors.disclosures_all().filter(uuid=disclosure_uuid).first()
    if record is None:
        raise Http404("Not found.")
    # Coordinators record the notice date, once; clinicians read the log.
    can_record = request.membership.role == Role.COORDINATOR and record.written_notice_sent_on is None
    if request.method == "POST" and not can_record:
        raise Http404("Not found.")
    form = NoticeSentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.disclosure_notice_sent(
                actor=request.user,
                agency=request.tenant,
                record=record,
                sent_on=form.cleaned_data["written_notice_sent_on"],
                request=request,
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, "Written notice date saved.")
            return redirect("disclosure_detail", agency_slug=request.tenant.slug, disclosure_uuid=record.uuid)
    audit_record(
        action=AuditAction.DISCLOSURE_VIEWED, actor=request.user, agency=request.tenant, obj=record, request=request
    )
    return render(
        request, "encounters/disclosure_detail.html", {"record": record, "form": form, "can_record": can_record}
    )


# --- Referrals -------------------------------------------------------------------------------------------------


def _suggestions(agency, data: dict, *, exclude_ids=()):
    return resources_suggested(
        agency.network,
        discipline=data.get("discipline") or "",
        region_id=agency.region_id,
        specialty=data.get("need") or "",
        language=(data.get("language") or "").strip(),
        kind=data.get("kind") or "",
        exclude_ids=tuple(exclude_ids),
    )[:SUGGESTIONS]


def _suggestions_widened(agency, criteria: dict, *, exclude_ids=()) -> tuple[list, dict, str]:
    """Suggestions for `criteria`; when none match, the search widens (any need, then any kind too) rather than
    dead-ending. Returns (suggestions, the criteria used, what was widened in words or "")."""
    suggestions, widened = list(_suggestions(agency, criteria, exclude_ids=exclude_ids)), ""
    for dropped, label in (("need", "any need"), ("kind", "any need and any kind")):
        if suggestions or not criteria.get(dropped):
            continue
        criteria = {**criteria, dropped: ""}
        suggestions, widened = list(_suggestions(agency, criteria, exclude_ids=exclude_ids)), label
    return suggestions, criteria, widened


@never_cache
@agency_view(*SUPPORTERS)
def encounter_refer(request: HttpRequest, encounter_uuid) -> HttpResponse:
    """The referral step: the directory searched for this member, best suggestions first; a tap refers."""
    encounter, level = selectors.encounter_for_viewer(request.membership, encounter_uuid)
    if level != selectors.FULL and request.membership.role != Role.COORDINATOR:
        raise Http404("Not found.")
    agency = request.tenant
    search = ReferralSearchForm(request.GET or None, initial=referral_search_initial(encounter, agency))
    criteria = _filters(search) if search.is_bound else search.initial
    if request.method == "POST":
        form = ReferralMakeForm(request.POST)
        resource = None
        if form.is_valid():
            resource = ResourceEntry.objects.filter(uuid=form.cleaned_data["resource"], network=agency.network).first()
        if resource is None:
            messages.error(request, "Choose one of the suggested entries.")
        else:
            try:
                services.referral_make(
                    actor=request.user,
                    agency=agency,
                    encounter=encounter,
                    resource=resource,
                    need=form.cleaned_data["need"],
                    request=request,
                )
            except ValidationError as error:
                message_service_error(request, error)
            else:
                messages.success(request, f"Referred to {resource.name}. It is in your follow-ups.")
                return redirect("encounter_detail", agency_slug=agency.slug, encounter_uuid=encounter.uuid)
    already = {r.resource_id for r in encounter.referrals.all()}
    suggestions, criteria, widened = _suggestions_widened(agency, criteria)
    return render(
        request,
        "encounters/referral_new.html",
        {
            "encounter": encounter,
            "search": search,
            "need": criteria.get("need") or "",
            "suggestions": suggestions,
            "already": already,
            "widened": widened,
        },
    )


@never_cache
@agency_view(Role.PEER_SUPPORTER, Role.COORDINATOR, Role.CLINICIAN)
def referral_detail(request: HttpRequest, referral_uuid) -> HttpResponse:
    """A referral and how it went; its supporter records the outcome here, and after a waitlist refers on to the
    next suggestion in the same step."""
    referral, level = selectors.referral_for_viewer(request.membership, referral_uuid)
    agency = request.tenant
    may_update = selectors.referral_may_update(referral, request.membership, level) and referral.is_open
    if request.method == "POST" and not may_update:
        raise Http404("Not found.")
    form = ReferralUpdateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        next_resource = None
        if form.cleaned_data["next_resource"]:
            next_resource = ResourceEntry.objects.filter(
                uuid=form.cleaned_data["next_resource"], network=agency.network
            ).first()
            if next_resource is None:
                form.add_error(None, "Choose one of the suggested entries.")
        if not form.errors:
            try:
                services.referral_update(
                    actor=request.user,
                    agency=agency,
                    referral=referral,
                    status=form.cleaned_data["status"],
                    next_resource=next_resource,
                    request=request,
                )
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                if next_resource is not None:
                    messages.success(request, f"Waitlisted; referred on to {next_resource.name}.")
                else:
                    messages.success(request, "Referral updated.")
                return redirect("referral_detail", agency_slug=agency.slug, referral_uuid=referral.uuid)
    next_suggestions = []
    if may_update:
        encounter = referral.encounter
        criteria = referral_search_initial(encounter, agency) | {"need": referral.need}
        tried = set(encounter.referrals.values_list("resource_id", flat=True))
        next_suggestions = _suggestions_widened(agency, criteria, exclude_ids=tried)[0][:5]
    return render(
        request,
        "encounters/referral_detail.html",
        {"referral": referral, "form": form, "may_update": may_update, "next_suggestions": next_suggestions},
    )
