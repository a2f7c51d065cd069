"""Demo activations: one open across three agencies, one closed with its after-action summary."""

from __future__ import annotations

import datetime
import random
import uuid

from django.contrib.auth import get_user_model
from django.utils import timezone

from activations import selectors, services
from activations.models import Activation, OutreachTarget, TargetFollowUp
from agencies.models import Agency, Membership, Role
from demo.phone import demo_phone_people
from encounters import services as encounter_services
from network.models import DocumentationStandard

User = get_user_model()

OPEN_MEMBERS = [
    # name, role, home agency slug, exposure, outcome
    ("Maria Lopez", "engineer", "riverton-fire", "direct", "contacted"),
    ("Devon Marsh", "captain", "riverton-fire", "direct", "referred"),
    ("Kai Whitman", "firefighter", "riverton-fire", "witness", "attempted"),
    ("Ruth Okafor", "paramedic", "north-county-ems", "direct", "contacted"),
    ("Glen Ibarra", "EMT", "north-county-ems", "support", "declined"),
    ("Tessa Nakamura", "paramedic", "north-county-ems", "direct", "pending"),
    ("Omar Haddad", "patrol officer", "riverton-police", "direct", "pending"),
    ("Lena Sorensen", "sergeant", "riverton-police", "witness", "attempted"),
    ("Victor Ames", "patrol officer", "riverton-police", "support", "unassigned"),
    ("Nia Brooks", "dispatcher liaison", "riverton-police", "support", "unassigned-late"),
]
DUPLICATE = ("maria  LOPEZ", "engineer", "riverton-police", "direct")


def _log_contact(target: OutreachTarget, standard: DocumentationStandard, referred: bool, rng: random.Random) -> None:
    agency = target.assigned_agency
    encounter_services.encounter_log(
        author=target.assigned_supporter,
        agency=agency,
        standard=standard,
        submission_key=uuid.uuid4(),
        occurred_on=timezone.localdate(),
        duration_band=rng.choice(["15-29", "30-44"]),
        contact_mode="in-person",
        initiator="activation",
        recipient_relation="own-agency" if target.home_agency == agency else "other-agency",
        recipient_discipline={"fire": "fire", "ems": "ems", "law": "law-enforcement"}.get(
            target.home_agency.discipline, "other"
        ),
        role_class="other",
        topics=["critical-incident"],
        interventions=["one-on-one"],
        referral="eap" if referred else "none",
        confidentiality_notice_given=True,
        follow_up_due_on=timezone.localdate() + datetime.timedelta(days=7),
        outreach_target=target,
    )


def _phone_answer(response, index: int) -> None:
    """The people with demo phones show the board's channel states: answers by text and by keypad (through
    the same services as the provider's webhooks), one escalated to the coordinators, one still waiting."""
    if index in (0, 1):
        services.callout_reply(user=response.supporter, text="1")  # the coordinator and the demo supporter
    elif index == 2:
        services.callout_reply(user=response.supporter, text="3", via="voice", response_id=response.pk)
    elif index == 3:
        response.refresh_from_db()
        services.callout_escalate_step(response_id=response.pk, ladder_round=response.ladder_round)
    # index 4: no answer yet; the ladder runs on the worker under ./dev up.


def seed_activations(*, agencies: dict[str, Agency], standard: DocumentationStandard) -> int:
    """Create the demo activations once. Returns how many were created."""
    created = 0
    rng = random.Random(9)  # nosec B311  # a reproducible demo story, not a secret
    coordinator = User.objects.get(email="coordinator@example.org")
    if not Activation.objects.filter(name="Route 9 bus crash").exists():
        activation = services.activation_open(
            actor=coordinator,
            lead_agency=agencies["riverton-fire"],
            incident_type="mci",
            name="Route 9 bus crash",
            occurred_at=timezone.now() - datetime.timedelta(hours=10),
            location="Route 9 at Mill Creek",
            participating=[agencies["riverton-police"], agencies["north-county-ems"]],
        )
        services.callout_send(actor=coordinator, activation=activation)
        callouts = list(activation.callouts.select_related("supporter").order_by("supporter__email"))
        phones = {user.pk: index for index, user in enumerate(demo_phone_people())}
        for index, response in enumerate(callouts):
            if response.supporter_id in phones:
                _phone_answer(response, phones[response.supporter_id])
                continue
            answer = "unavailable" if index % 7 == 3 else "available"
            services.callout_answer(
                supporter=response.supporter, activation=activation, answer=answer, involved=index == 1
            )
        pool = [p for p in selectors.assignable_supporters(activation) if not p["blocked"]]
        demo_supporter = User.objects.get(email="supporter@example.org")
        demo_pairs = [p for p in pool if p["user"] == demo_supporter]
        for i, (name, role, slug, exposure, outcome) in enumerate(OPEN_MEMBERS):
            (target,) = services.targets_add(
                actor=coordinator,
                activation=activation,
                home_agency=agencies[slug],
                entries=[(name, role)],
                exposure=exposure,
            )
            if outcome == "unassigned-late":
                OutreachTarget.objects.filter(pk=target.pk).update(
                    added_at=timezone.now() - datetime.timedelta(hours=9)
                )
            if outcome.startswith("unassigned"):
                continue
            chosen = demo_pairs[0] if i < 3 and demo_pairs else pool[i % len(pool)]
            supporter = chosen["user"]
            target = services.target_assign(
                actor=coordinator,
                target=target,
                supporter=supporter,
                agency=chosen["agency"],
                expected_supporter_id=None,
            )
            if outcome in ("contacted", "referred"):
                _log_contact(target, standard, referred=outcome == "referred", rng=rng)
            elif outcome in ("attempted", "declined"):
                services.outreach_update(actor=supporter, target=target, status="attempted")
                if outcome == "declined":
                    services.outreach_update(actor=supporter, target=target, status="declined")
        _protocol_progress(activation, coordinator, everything_due=False)
        services.targets_add(
            actor=coordinator,
            activation=activation,
            home_agency=agencies[DUPLICATE[2]],
            entries=[DUPLICATE[:2]],
            exposure=DUPLICATE[3],
        )
        created += 1

    if not Activation.objects.filter(name="Harbor Detention disturbance").exists():
        lead = agencies["harbor-county-jail"]
        lead_coordinator = Membership.objects.filter(agency=lead, role=Role.COORDINATOR).first().user
        activation = services.activation_open(
            actor=lead_coordinator,
            lead_agency=lead,
            incident_type="corrections-disturbance",
            name="Harbor Detention disturbance",
            occurred_at=timezone.now() - datetime.timedelta(days=45),
            location="Harbor County Detention Center",
            participating=[agencies["southport-police"]],
        )
        services.callout_send(actor=lead_coordinator, activation=activation)
        pool = [p for p in selectors.assignable_supporters(activation) if not p["blocked"]]
        names = ["Ada Finch", "Brian Cole", "Carmen Diaz", "Dev Patel", "Eli Grant", "Fay Morgan"]
        for i, name in enumerate(names):
            home = lead if i < 4 else agencies["southport-police"]
            (target,) = services.targets_add(
                actor=lead_coordinator,
                activation=activation,
                home_agency=home,
                entries=[(name, "officer")],
                exposure="direct" if i < 3 else "witness",
            )
            chosen = pool[i % len(pool)]
            target = services.target_assign(
                actor=lead_coordinator,
                target=target,
                supporter=chosen["user"],
                agency=chosen["agency"],
                expected_supporter_id=None,
            )
            if i == 5:
                services.outreach_update(actor=lead_coordinator, target=target, status="declined")
            else:
                _log_contact(target, standard, referred=i == 2, rng=rng)
                # The member was listed within the hour and contacted within hours of the incident, 45 days ago.
                OutreachTarget.objects.filter(pk=target.pk).update(
                    added_at=activation.occurred_at + datetime.timedelta(hours=1),
                    first_contact_at=activation.occurred_at + datetime.timedelta(hours=2 + 3 * i),
                )
        _protocol_progress(activation, lead_coordinator, everything_due=True)
        services.activation_demobilize(actor=lead_coordinator, activation=activation)
        services.activation_close(actor=lead_coordinator, activation=activation)
        created += 1
    return created


def _protocol_progress(activation, coordinator, *, everything_due: bool) -> None:
    """Tick what a team would have done by now: the first checklist step of a fresh activation, or
    every step and every follow-up already due (by its supporter) of an older one."""
    items = list(activation.checklist.order_by("due_at"))
    for item in items if everything_due else items[:1]:
        services.checklist_item_done(actor=coordinator, item=item)
    if everything_due:
        due = TargetFollowUp.objects.filter(
            target__activation=activation,
            due_on__lte=timezone.localdate(),
            target__assigned_supporter__isnull=False,
            target__first_contact_at__isnull=False,  # a follow-up is done only once the member was reached
        ).select_related("target__assigned_supporter", "target__activation")
        for follow_up in due:
            services.target_follow_up_done(
                actor=follow_up.target.assigned_supporter, follow_up=follow_up, coordinator=False
            )
