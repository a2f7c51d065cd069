"""Regional deployment, first half (issue 19, docs/deployment.md): the request for N supporters, the agencies'
offers of named supporters, the requester's acceptance, and each supporter's own confirmation.

Services take `actor=` (and `request=None`), check rights themselves, write the activation's timeline (with the
deployment and, where it is not the actor, the supporter concerned) and the audit log in the same transaction.
Nothing here names an affected member: mails and texts carry the operational name, dates, the reporting location
and a link to a page that checks who is looking.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, OuterRef, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from activations.access import COORDINATE, DEPLOYED, activation_perms_for, deployed_places
from activations.models import (
    Activation,
    ActivationEvent,
    CalloutResponse,
    DeployedSupporter,
    Deployment,
    DeploymentOffer,
    OutreachTarget,
)
from activations.selectors import FINAL_STATUSES
from activations.services import _event, _require, _spend
from agencies.access import membership_for
from agencies.models import Agency, CertificationKind, Discipline, Membership, Role
from agencies.roster.selectors import readiness_problem
from agencies.selectors import memberships_of, supporters_of
from governance.models import Scope
from governance.selectors import agencies_covered_with
from network import channels
from network.access import network_roles_for
from network.audit import AuditAction, audit_record
from network.channels import Channel
from network.inline import inline_instances, inline_rows
from network.models import MobileNumber, NetworkRole
from network.notify import notify
from network.outbox import outbox_enqueue
from network.privilege import profile_of
from network.selectors import policy_for

Kind = ActivationEvent.Kind
Person = DeployedSupporter.Status

MAX_DAYS = 30
MAX_WANTED = 200
# Statuses of a place that count against `supporters_wanted`.
TAKEN = (Person.ACCEPTED, Person.CONFIRMED)
CISM_KINDS = (CertificationKind.CISM_INDIVIDUAL, CertificationKind.CISM_GROUP)

NOT_ALLOWED = (
    "Only the lead agency's coordinators, the lead region's regional coordinator and the state admin request a "
    "deployment."
)


# --- Who may request ------------------------------------------------------------------------------------------


def may_request_deployment(user, activation: Activation) -> bool:
    """Who leads the activation's deployments, requesting them and demobilising them (and deciding offers): a
    coordinator of the lead agency (an active membership, the agency active), the regional coordinator of the lead
    agency's region, or the network's state admin. A coordinator of another participating agency may not."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if any(m.agency_id == activation.lead_agency_id and m.role == Role.COORDINATOR for m in memberships_of(user)):
        return True
    for role in network_roles_for(user):
        if role.network_id != activation.network_id:
            continue
        if role.role == NetworkRole.Role.STATE_ADMIN:
            return True
        if role.role == NetworkRole.Role.REGIONAL_COORDINATOR and role.region_id == activation.lead_agency.region_id:
            return True
    return False


def _require_requester(actor, activation: Activation) -> None:
    if not may_request_deployment(actor, activation):
        raise ValidationError(NOT_ALLOWED, code="not_a_requester")
    _require(actor, activation, COORDINATE)


# --- 1. The request -------------------------------------------------------------------------------------------


def askable_agency_ids(activation: Activation) -> list[int]:
    """The agencies a request goes to: active, covered with the lead by a joint-activation agreement in force
    (network-wide mutual aid counts), the lead itself excluded."""
    lead = activation.lead_agency
    covered = agencies_covered_with(lead, Scope.JOINT_ACTIVATION)
    return list(
        Agency.objects.filter(pk__in=covered, status=Agency.Status.ACTIVE)
        .exclude(pk=lead.pk)
        .order_by("name")
        .values_list("pk", flat=True)
    )


def _clean_request(
    *, supporters_wanted, starts_on, ends_on, reporting_location, disciplines, languages
) -> tuple[list[str], list[str]]:
    errors: dict[str, ValidationError] = {}
    if not isinstance(supporters_wanted, int) or not 1 <= supporters_wanted <= MAX_WANTED:
        errors["supporters_wanted"] = ValidationError(
            f"Ask for between 1 and {MAX_WANTED} supporters.", code="wanted_out_of_range"
        )
    today = timezone.localdate()
    if starts_on < today:
        errors["starts_on"] = ValidationError("The deployment cannot start in the past.", code="starts_in_past")
    if ends_on < starts_on:
        errors["ends_on"] = ValidationError("The deployment ends on or after its first day.", code="ends_before_start")
    elif (ends_on - starts_on).days + 1 > MAX_DAYS:
        errors["ends_on"] = ValidationError(
            f"A deployment lasts at most {MAX_DAYS} days; request another for longer.", code="too_long"
        )
    if not (reporting_location or "").strip():
        errors["reporting_location"] = ValidationError("Say where supporters report.", code="no_location")
    disciplines = sorted({d for d in disciplines})
    if any(d not in Discipline.values for d in disciplines):
        errors["disciplines"] = ValidationError("Choose disciplines from the list.", code="bad_discipline")
    languages = [" ".join(str(lang).split())[:40] for lang in languages if str(lang).strip()]
    if len(languages) > 10:
        errors["languages"] = ValidationError("List at most 10 languages.", code="too_many_languages")
    if errors:
        raise ValidationError(errors)
    return disciplines, languages


def deployment_request(
    *,
    actor,
    activation: Activation,
    supporters_wanted: int,
    starts_on: datetime.date,
    ends_on: datetime.date,
    reporting_location: str,
    disciplines: list[str] = (),
    languages: list[str] = (),
    cism_trained: bool = False,
    request=None,
) -> Deployment:
    """Ask the agencies under a joint-activation agreement with the lead for `supporters_wanted` supporters from
    `starts_on` to `ends_on`. The rotation limits come from the activation's protocol (the model's defaults when
    it has none). Each asked agency's coordinators are told by e-mail."""
    _require_requester(actor, activation)
    if not activation.is_open:
        raise ValidationError("Deployments are requested only while the activation is open.", code="closed")
    disciplines, languages = _clean_request(
        supporters_wanted=supporters_wanted,
        starts_on=starts_on,
        ends_on=ends_on,
        reporting_location=reporting_location,
        disciplines=list(disciplines),
        languages=list(languages),
    )
    asked = askable_agency_ids(activation)
    if not asked:
        message = (
            f"No agency is under a joint-activation or mutual-aid agreement in force with "
            f"{activation.lead_agency.name}: there is no one to ask. A state admin records agreements under "
            "Network > Agreements."
        )
        raise ValidationError(message, code="no_agency_to_ask")
    protocol = activation.protocol
    deployment = Deployment(
        activation=activation,
        requested_by=actor,
        supporters_wanted=supporters_wanted,
        starts_on=starts_on,
        ends_on=ends_on,
        reporting_location=" ".join(reporting_location.split()),
        disciplines=disciplines,
        languages=languages,
        cism_trained=bool(cism_trained),
        asked_agency_ids=asked,
    )
    if protocol is not None:
        deployment.shift_hours = protocol.deployment_shift_hours
        deployment.rest_hours = protocol.deployment_rest_hours
        deployment.max_days_in_row = protocol.deployment_max_days_in_row
    deployment.full_clean()
    with transaction.atomic():
        if not Activation.objects.select_for_update(no_key=True).filter(pk=activation.pk, status="open").exists():
            raise ValidationError("Deployments are requested only while the activation is open.", code="closed")
        deployment.save()
        _event(activation, Kind.DEPLOYMENT_REQUESTED, actor=actor, deployment=deployment, detail=str(supporters_wanted))
        audit_record(action=AuditAction.DEPLOYMENT_REQUESTED, actor=actor, obj=deployment, request=request)
        _notify_asked(deployment)
    return deployment


def _coordinator_emails(agency_ids) -> dict[int, list[str]]:
    rows = Membership.objects.filter(
        agency_id__in=list(agency_ids), role=Role.COORDINATOR, is_active=True, user__is_active=True
    ).values_list("agency_id", "user__email")
    emails: dict[int, list[str]] = {}
    for agency_id, email in rows:
        emails.setdefault(agency_id, []).append(email)
    return emails


def _notify_asked(deployment: Deployment) -> None:
    activation = deployment.activation
    emails = _coordinator_emails(deployment.asked_agency_ids)
    for agency in Agency.objects.filter(pk__in=deployment.asked_agency_ids):
        link = settings.MUSTER_BASE_URL + reverse("agency_deployment_requests", kwargs={"agency_slug": agency.slug})
        notify(
            emails.get(agency.pk, []),
            "deployment_request",
            {
                "lead": activation.lead_agency.name,
                "operational_name": activation.name,
                "starts_on": deployment.starts_on,
                "ends_on": deployment.ends_on,
                "location": deployment.reporting_location,
                "wanted": deployment.supporters_wanted,
                "link": link,
            },
        )


# --- Reads: the activation's deployments, one deployment, the agency's open requests ----------------------------


BOARD_FIELDS = ("uuid", "reporting_location", "starts_on", "ends_on", "status", "supporters_wanted")


def _counted(deployments: QuerySet[Deployment]) -> QuerySet[Deployment]:
    return deployments.annotate(
        accepted=Count("people", filter=Q(people__status=Person.ACCEPTED)),
        confirmed=Count("people", filter=Q(people__status=Person.CONFIRMED)),
    )


def deployments_inline() -> dict:
    """The activation's deployments with their counts, to read in the activation's own statement
    (`activation_view(annotate=...)`, network/inline.py): the board lists them at no extra statement."""
    rows = _counted(Deployment.objects.filter(activation=OuterRef("pk"))).order_by("-requested_at")
    return {"deployment_rows": inline_rows(rows, *BOARD_FIELDS, "accepted", "confirmed")}


def deployments_of(activation: Activation) -> list[dict]:
    """The activation's deployments, newest first, each a dict of BOARD_FIELDS with `accepted` and `confirmed`
    counts and `status_label`: read with the activation when it was loaded with `deployments_inline()`."""
    if hasattr(activation, "deployment_rows"):
        rows = [dict(row) for row in activation.deployment_rows or ()]
    else:
        rows = list(
            _counted(Deployment.objects.filter(activation=activation)).values(*BOARD_FIELDS, "accepted", "confirmed")
        )
    labels = dict(Deployment.Status.choices)
    for row in rows:
        for name in ("starts_on", "ends_on"):
            if isinstance(row[name], str):
                row[name] = datetime.date.fromisoformat(row[name])
        row["status_label"] = labels.get(row["status"], row["status"])
    return rows


def discipline_labels(codes) -> list[str]:
    return [Discipline(code).label for code in codes if code in Discipline.values]


def _matches(deployment: Deployment, membership: Membership, on: datetime.date) -> str:
    """'' when the supporter has the skills the deployment wants, else what is missing."""
    profile = getattr(membership, "profile", None)
    if deployment.disciplines:
        served = profile.served_disciplines() if profile is not None else [membership.agency.discipline]
        if not set(served) & set(deployment.disciplines):
            wanted = ", ".join(Discipline(d).label for d in deployment.disciplines)
            return f"does not serve {wanted}"
    if deployment.languages:
        spoken = {lang.casefold() for lang in (profile.languages if profile is not None else [])}
        if not spoken & {lang.casefold() for lang in deployment.languages}:
            return f"does not speak {' or '.join(deployment.languages)}"
    if deployment.cism_trained and not any(
        cert.kind in CISM_KINDS and cert.is_current(on) for cert in membership.certifications.all()
    ):
        return "no current CISM certification"
    return ""


def _cism_current(membership: Membership, on: datetime.date) -> bool:
    return any(cert.kind in CISM_KINDS and cert.is_current(on) for cert in membership.certifications.all())


def offer_candidates(deployment: Deployment, agency: Agency) -> list[dict]:
    """The agency's supporters for an offer, each with `blocked` ('' when they may be offered, else the reason):
    ready by the roster and the network's privilege profile (incident date = the activation's), not called out
    as involved in the incident, not already holding a place on this deployment, and matching the skills wanted."""
    activation = deployment.activation
    today = timezone.localdate()
    incident_date = timezone.localtime(activation.occurred_at).date()
    privilege = profile_of(policy_for(activation.network))
    memberships = list(
        supporters_of(agency)
        .select_related("user", "agency", "profile")
        .prefetch_related("certifications")
        .order_by("user__full_name")
    )
    user_ids = [m.user_id for m in memberships]
    involved = set(
        CalloutResponse.objects.filter(activation=activation, supporter_id__in=user_ids, involved=True).values_list(
            "supporter_id", flat=True
        )
    )
    holding = set(
        DeployedSupporter.objects.filter(
            deployment=deployment, supporter_id__in=user_ids, status__in=DeployedSupporter.HOLDING
        ).values_list("supporter_id", flat=True)
    )
    rows = []
    for membership in memberships:
        blocked = readiness_problem(
            membership,
            incident_date=incident_date,
            designation_before_incident=privilege.designation_before_incident,
            min_training_hours=privilege.min_training_hours,
        )
        if not blocked and membership.user_id in involved:
            blocked = "witness or party to the incident"
        if not blocked and membership.user_id in holding:
            blocked = "already holds a place on this deployment"
        if not blocked:
            blocked = _matches(deployment, membership, today)
        profile = getattr(membership, "profile", None)
        rows.append(
            {
                "membership": membership,
                "user": membership.user,
                "blocked": blocked,
                "disciplines": discipline_labels(profile.served_disciplines() if profile else [agency.discipline]),
                "languages": profile.languages if profile is not None else [],
                "cism": _cism_current(membership, today),
            }
        )
    return rows


def open_requests_for(agency: Agency) -> QuerySet[Deployment]:
    """Deployments under way, of open activations, that asked `agency`."""
    return (
        Deployment.objects.filter(
            asked_agency_ids__contains=[agency.pk],
            status__in=[Deployment.Status.REQUESTED, Deployment.Status.ACTIVE],
            activation__status=Activation.Status.OPEN,
        )
        .select_related("activation", "activation__lead_agency")
        .order_by("starts_on", "pk")
    )


PEOPLE_FIELDS = (
    "id",
    "offer_id",
    "deployment_id",
    "status",
    "confirmed_at",
    "supporter_id",
    "supporter__full_name",
    "home_agency_id",
    "home_agency__name",
)


@dataclass
class OfferView:
    offer: DeploymentOffer
    people: list[dict]


def deployment_detail(deployment: Deployment) -> dict:
    """What the requester sees: asked agencies (and whether each has offered), every offer with its people (name,
    home agency, disciplines, languages, CISM, readiness now) and the counts."""
    today = timezone.localdate()
    activation = deployment.activation
    incident_date = timezone.localtime(activation.occurred_at).date()
    # Each offer with its people, in one statement (network/inline.py): the page stays within its budget.
    people_of = DeployedSupporter.objects.filter(offer=OuterRef("pk")).order_by(
        "home_agency__name", "supporter__full_name", "pk"
    )
    offers = list(
        DeploymentOffer.objects.filter(deployment=deployment)
        .select_related("agency", "offered_by")
        .annotate(people_rows=inline_rows(people_of, *PEOPLE_FIELDS))
        .order_by("offered_at", "pk")
    )
    people = [p for o in offers for p in inline_instances(DeployedSupporter, o.people_rows)]
    privilege = profile_of(policy_for(activation.network)) if people else None
    memberships = {
        (m.user_id, m.agency_id): m
        for m in Membership.objects.filter(
            user_id__in={p.supporter_id for p in people},
            agency_id__in={p.home_agency_id for p in people},
            is_active=True,
        )
        .select_related("agency", "profile")
        .prefetch_related("certifications")
    }
    by_offer: dict[int, list[dict]] = {o.pk: [] for o in offers}
    for person in people:
        membership = memberships.get((person.supporter_id, person.home_agency_id))
        profile = getattr(membership, "profile", None) if membership else None
        by_offer.setdefault(person.offer_id, []).append(
            {
                "person": person,
                "disciplines": discipline_labels(profile.served_disciplines()) if profile is not None else [],
                "languages": profile.languages if profile is not None else [],
                "cism": _cism_current(membership, today) if membership else False,
                "readiness": readiness_problem(
                    membership,
                    incident_date=incident_date,
                    designation_before_incident=privilege.designation_before_incident,
                    min_training_hours=privilege.min_training_hours,
                )
                if membership
                else "no longer an active member of their agency",
            }
        )
    asked = list(Agency.objects.filter(pk__in=deployment.asked_agency_ids).order_by("name"))
    offered_by = {o.agency_id for o in offers if o.status != DeploymentOffer.Status.WITHDRAWN}
    counts = {
        "wanted": deployment.supporters_wanted,
        "accepted": sum(1 for p in people if p.status == Person.ACCEPTED),
        "confirmed": sum(1 for p in people if p.status == Person.CONFIRMED),
        "offered": sum(1 for p in people if p.status == Person.OFFERED),
    }
    counts["left"] = max(0, counts["wanted"] - counts["accepted"] - counts["confirmed"])
    return {
        "asked": [(agency, agency.pk in offered_by) for agency in asked],
        "offers": [OfferView(offer=o, people=by_offer.get(o.pk, [])) for o in offers],
        "counts": counts,
        "discipline_labels": discipline_labels(deployment.disciplines),
    }


def open_deployment_asks_of(user) -> list[DeployedSupporter]:
    """The user's places on deployments under way of open activations, with the deployment and activation: those
    waiting for their own answer (accepted by the requester, not yet confirmed), so they find the confirm page, and
    those confirmed, so they find the check-in page."""
    return list(
        deployed_places(user)
        .filter(deployment__activation__status=Activation.Status.OPEN)
        .select_related("deployment", "deployment__activation", "deployment__activation__lead_agency")
        .order_by("deployment__starts_on", "pk")
    )


# --- 3. The offer ---------------------------------------------------------------------------------------------


def _integrity_refusal(error: IntegrityError) -> ValidationError:
    text = str(error)
    if "deployed_once_per_deployment" in text:
        return ValidationError(
            "One of these supporters was offered to this deployment a moment ago (by another agency they belong to): "
            "each supporter holds one place. Reload the page and choose again.",
            code="already_offered",
        )
    if "deployment_one_open_offer" in text:
        return ValidationError(
            "Your agency already has an offer waiting for an answer: withdraw it to offer other people.",
            code="offer_open",
        )
    raise error


def offer_make(*, actor, deployment: Deployment, agency: Agency, memberships: list[Membership], request=None):
    """`agency`'s coordinator offers `memberships` (the agency's ready supporters) to the deployment: one open offer
    per agency, one place per supporter per deployment (both database constraints: a concurrent offer of the same
    person answers with a clear refusal). The requester is told."""
    if membership_for(actor, agency, [Role.COORDINATOR]) is None:
        raise ValidationError("Only your agency's coordinators offer supporters.", code="not_a_coordinator")
    activation = deployment.activation
    if (
        agency.pk not in deployment.asked_agency_ids
        or not deployment.is_under_way
        or activation.status != Activation.Status.OPEN
    ):
        raise ValidationError("This deployment is not asking your agency for supporters.", code="not_asked")
    if not memberships:
        raise ValidationError("Tick at least one supporter to offer.", code="nobody_offered")
    candidates = {row["membership"].pk: row for row in offer_candidates(deployment, agency)}
    for membership in memberships:
        row = candidates.get(membership.pk)
        if row is None:
            raise ValidationError("Offer your own agency's peer supporters.", code="not_a_supporter")
        if row["blocked"]:
            raise ValidationError(
                f"{row['user'].get_full_name()} cannot be offered: {row['blocked']}.", code="supporter_not_ready"
            )
    try:
        with transaction.atomic():
            locked = Deployment.objects.select_for_update(no_key=True).filter(pk=deployment.pk).first()
            if locked is None or not locked.is_under_way:
                raise ValidationError("This deployment is no longer asking for supporters.", code="not_asked")
            offer = DeploymentOffer.objects.create(deployment=deployment, agency=agency, offered_by=actor)
            for membership in memberships:
                DeployedSupporter.objects.create(
                    deployment=deployment, offer=offer, supporter=membership.user, home_agency=agency
                )
            _event(
                activation,
                Kind.DEPLOYMENT_OFFERED,
                actor=actor,
                agency=agency,
                deployment=deployment,
                detail=str(len(memberships)),
            )
            audit_record(action=AuditAction.DEPLOYMENT_OFFERED, actor=actor, agency=agency, obj=offer, request=request)
            _notify_requester(deployment, "offered", agency=agency, count=len(memberships))
    except IntegrityError as error:
        raise _integrity_refusal(error) from None
    return offer


def offer_withdraw(*, actor, offer: DeploymentOffer, request=None) -> DeploymentOffer:
    """The offering agency withdraws its offer while it waits for an answer; its people's places are released, the
    activity log says so, and the requester is told (it no longer has an offer to answer)."""
    if membership_for(actor, offer.agency, [Role.COORDINATOR]) is None:
        raise ValidationError("Only your agency's coordinators withdraw its offer.", code="not_a_coordinator")
    with transaction.atomic():
        updated = DeploymentOffer.objects.filter(pk=offer.pk, status=DeploymentOffer.Status.OFFERED).update(
            status=DeploymentOffer.Status.WITHDRAWN, decided_at=timezone.now(), decided_by=actor
        )
        if not updated:
            raise ValidationError("This offer was answered already; it can no longer be withdrawn.", code="decided")
        released = DeployedSupporter.objects.filter(offer=offer, status=Person.OFFERED).update(
            status=Person.NOT_TAKEN, ended_at=timezone.now()
        )
        offer.refresh_from_db()
        deployment = offer.deployment
        _event(
            deployment.activation,
            Kind.OFFER_WITHDRAWN,
            actor=actor,
            agency=offer.agency,
            deployment=deployment,
            detail=str(released),
        )
        audit_record(
            action=AuditAction.DEPLOYMENT_OFFER_WITHDRAWN,
            actor=actor,
            agency=offer.agency,
            obj=offer,
            request=request,
        )
        _notify_requester(deployment, "withdrawn", agency=offer.agency, count=released)
    return offer


def _notify_requester(deployment: Deployment, what: str, *, agency: Agency, count: int = 0) -> None:
    activation = deployment.activation
    link = settings.MUSTER_BASE_URL + reverse(
        "deployment_detail", kwargs={"activation_uuid": activation.uuid, "deployment_uuid": deployment.uuid}
    )
    notify(
        deployment.requested_by.email,
        "deployment_news",
        {
            "what": what,
            "agency": agency.name,
            "count": count,
            "operational_name": activation.name,
            "starts_on": deployment.starts_on,
            "link": link,
        },
    )


# --- 4. Accept or decline an offer ------------------------------------------------------------------------------


def offer_decide(*, actor, offer: DeploymentOffer, accept: bool, request=None) -> DeploymentOffer:
    """The requester side accepts an offer whole (refused when its people would take more places than are left)
    or declines it. Each accepted supporter is asked to confirm, by e-mail and, when their mobile can be texted, a
    neutral text with the link to the confirm page."""
    deployment = offer.deployment
    activation = deployment.activation
    _require_requester(actor, activation)
    now = timezone.now()
    with transaction.atomic():
        # The deployment row lock serialises decisions: two accepts at once cannot both take the last places.
        deployment = Deployment.objects.select_for_update().get(pk=deployment.pk)
        if not deployment.is_under_way or activation.status != Activation.Status.OPEN:
            raise ValidationError("This deployment is no longer under way.", code="not_under_way")
        offer = DeploymentOffer.objects.select_for_update().select_related("agency").get(pk=offer.pk)
        if offer.status != DeploymentOffer.Status.OFFERED:
            raise ValidationError(f"This offer was {offer.get_status_display().lower()} already.", code="decided")
        people = list(DeployedSupporter.objects.filter(offer=offer, status=Person.OFFERED).select_related("supporter"))
        if accept:
            taken = DeployedSupporter.objects.filter(deployment=deployment, status__in=TAKEN).count()
            left = deployment.supporters_wanted - taken
            if len(people) > left:
                places = "no place is" if left <= 0 else ("1 place is" if left == 1 else f"{left} places are")
                raise ValidationError(
                    f"Accepting would give {taken + len(people)} supporters for {deployment.supporters_wanted} "
                    f"wanted: {places} left. Decline this offer, or ask the agency for fewer people.",
                    code="too_many",
                )
        offer.status = DeploymentOffer.Status.ACCEPTED if accept else DeploymentOffer.Status.DECLINED
        offer.decided_by, offer.decided_at = actor, now
        offer.save(update_fields=["status", "decided_by", "decided_at"])
        DeployedSupporter.objects.filter(pk__in=[p.pk for p in people]).update(
            status=Person.ACCEPTED if accept else Person.NOT_TAKEN, ended_at=None if accept else now
        )
        if accept and deployment.status == Deployment.Status.REQUESTED:
            Deployment.objects.filter(pk=deployment.pk).update(status=Deployment.Status.ACTIVE)
        _event(
            activation,
            Kind.OFFER_ACCEPTED if accept else Kind.OFFER_DECLINED,
            actor=actor,
            agency=offer.agency,
            deployment=deployment,
            detail=str(len(people)),
        )
        audit_record(
            action=AuditAction.DEPLOYMENT_OFFER_DECIDED, actor=actor, agency=offer.agency, obj=offer, request=request
        )
        if accept:
            _ask_to_confirm(deployment, people)
    return offer


def confirm_link(deployment: Deployment) -> str:
    return settings.MUSTER_BASE_URL + reverse(
        "deployment_confirm",
        kwargs={"activation_uuid": deployment.activation.uuid, "deployment_uuid": deployment.uuid},
    )


def confirm_text(deployment: Deployment) -> str:
    """Everything the confirmation text says: Muster, the requesting agency's peer team, the reply words and a link
    that needs sign-in. No member names, no incident type, no place (as callout texts)."""
    return (
        f"Muster: {deployment.activation.lead_agency.name} peer team asks you to confirm a deployment. "
        f"Reply GO if you will go, NOGO if you cannot, or open {confirm_link(deployment)}"
    )


# The reply words of the confirmation text: none of them is a callout answer (1, 2, 3, yes, no...).
REPLY_GOING = {"go": True, "nogo": False, "no-go": False}


def deployment_text_reply(*, user, text: str) -> str | None:
    """A texted answer to the request to confirm (services.phone_inbound_text asks here before the callout
    answers): the reply to send back, or None when the text is not GO or NOGO. With one place waiting for the
    supporter's answer it is recorded as the confirm page would (`via` text); with several, nothing is guessed."""
    word = " ".join(text.strip().lower().replace(".", " ").split()).replace(" ", "")
    if word not in REPLY_GOING:
        return None
    waiting = list(
        deployed_places(user)
        .filter(status=Person.ACCEPTED)
        .select_related("deployment", "deployment__activation", "deployment__activation__lead_agency")
        .order_by("deployment__starts_on", "pk")
    )
    if not waiting:
        return "Muster: no deployment is waiting for your answer. Nothing was recorded."
    if len(waiting) > 1:
        return f"Muster: {len(waiting)} deployments wait for your answer. Answer each in Muster. Nothing was recorded."
    going = REPLY_GOING[word]
    try:
        deployment_answer(actor=user, person=waiting[0], going=going, via="text")
    except ValidationError:
        return "Muster: your answer could not be recorded. Answer on the page from the text."
    return "Muster: recorded, you will go. Thank you." if going else "Muster: recorded, you cannot go. Thank you."


def _ask_to_confirm(deployment: Deployment, people: list[DeployedSupporter]) -> None:
    activation = deployment.activation
    context = {
        "lead": activation.lead_agency.name,
        "operational_name": activation.name,
        "starts_on": deployment.starts_on,
        "ends_on": deployment.ends_on,
        "location": deployment.reporting_location,
        "link": confirm_link(deployment),
    }
    reachable = channels.users_with_phone([p.supporter_id for p in people], [Channel.TEXT])
    mobiles = {m.user_id: m for m in MobileNumber.objects.filter(user_id__in=reachable)}
    now = timezone.now()
    for person in people:
        notify(person.supporter.email, "deployment_confirm", context)  # one mail each: nobody sees the others
        if person.supporter_id in reachable:
            # In their quiet hours the text waits for the morning (the e-mail went now).
            eta = mobiles[person.supporter_id].quiet_ends(now)
            outbox_enqueue(task="activations.tasks.deployment_confirm_text_task", args=[person.pk], eta=eta)


def deployment_confirm_text_send(*, person_id: int) -> str:
    """Text one accepted supporter the neutral request to confirm (the worker runs it, after their quiet hours
    when it was queued in them): only while they have not answered, the deployment is under way, their number takes
    texts now, and the network's text cap for the activation is not spent."""
    with transaction.atomic():
        person = (
            DeployedSupporter.objects.select_for_update(of=("self",))
            .select_related("deployment", "deployment__activation", "deployment__activation__lead_agency")
            .filter(pk=person_id, status=Person.ACCEPTED)
            .first()
        )
        if person is None or not person.deployment.is_under_way:
            return "skipped"
        activation = person.deployment.activation
        mobile = channels.mobile_of(person.supporter_id)
        if not channels.mobile_reaches(mobile, Channel.TEXT):
            return "no-text"
        if not _spend(activation, "texts_sent", policy_for(activation.network).callout_max_texts):
            return "no-text"
        channels.deliver(
            Channel.TEXT, mobile=mobile, text=confirm_text(person.deployment), purpose="deployment", ref_id=person.pk
        )
    return "texted"


# --- 5. The supporter's own answer ------------------------------------------------------------------------------


def deployment_answer(*, actor, person: DeployedSupporter, going: bool, via: str = "web", request=None):
    """The supporter confirms ("I'll go") or declines ("I can't go") their accepted place. The same answer twice
    (a double tap) changes nothing. A decline frees the place and the requester is told."""
    deployment = person.deployment
    activation = deployment.activation
    if person.supporter_id != actor.pk:
        raise ValidationError("This place on the deployment is not yours.", code="not_yours")
    with transaction.atomic():
        person = DeployedSupporter.objects.select_for_update().select_related("home_agency").get(pk=person.pk)
        wanted = Person.CONFIRMED if going else Person.DECLINED
        if person.status == wanted:
            return person  # a double tap: the first answer stands
        if DEPLOYED not in activation_perms_for(actor, activation):
            raise ValidationError("This place on the deployment is not yours.", code="not_yours")
        if person.status not in (Person.ACCEPTED, Person.CONFIRMED) or not deployment.is_under_way:
            raise ValidationError("This place can no longer be answered.", code="not_answerable")
        now = timezone.now()
        person.status = wanted
        if going:
            person.confirmed_at, person.confirmed_via = now, via
        else:
            person.ended_at = now
        person.save(update_fields=["status", "confirmed_at", "confirmed_via", "ended_at"])
        _event(
            activation,
            Kind.DEPLOYMENT_CONFIRMED if going else Kind.DEPLOYMENT_DECLINED,
            actor=actor,
            agency=person.home_agency,
            deployment=deployment,
        )
        audit_record(
            action=AuditAction.DEPLOYMENT_ANSWERED, actor=actor, agency=person.home_agency, obj=person, request=request
        )
        if not going:
            _assignments_return(person, actor=actor)
            _notify_requester(deployment, "declined", agency=person.home_agency)
    return person


def _assignments_return(person: DeployedSupporter, *, actor) -> None:
    """A supporter who drops out after confirming no longer works the activation: the members they held through the
    deployment go back to the board, unassigned (a timeline event each, naming no one)."""
    deployment = person.deployment
    held = list(
        OutreachTarget.objects.select_for_update()
        .filter(via_deployment=deployment, assigned_supporter_id=person.supporter_id, merged_into__isnull=True)
        .exclude(status__in=FINAL_STATUSES)
        .order_by("pk")
    )
    for target in held:
        OutreachTarget.objects.filter(pk=target.pk).update(
            assigned_supporter=None, assigned_agency=None, assigned_at=None, via_deployment=None
        )
        _event(
            deployment.activation,
            Kind.ASSIGNMENT_RETURNED,
            actor=actor,
            agency=person.home_agency,
            target=target,
            deployment=deployment,
            detail="deployment-declined",
        )
