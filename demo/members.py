"""Demo members' requests and check-ins (docs/members.md): requests in every state across several agencies (one
for someone from another agency, in the North region's queue; one urgent), and check-ins due and answered."""

from __future__ import annotations

import datetime
import uuid

from django.utils import timezone

from agencies.models import Agency
from agencies.tenancy import agency_schema
from encounters import maintenance
from encounters import services as encounter_services
from encounters.models import CheckIn, CheckInPlan
from members import selectors, services
from members.models import MemberRequest
from network.models import DocumentationStandard, User

SUPPORTER = "supporter@example.org"
COORDINATOR = "coordinator@example.org"

CROSS = {"served_by": "other", "contact_visible_to": "supporter"}
# slug, minutes ago, contact, choices, what happens next ("new", "assigned", "contacted", "closed")
REQUESTS = [
    ("riverton-fire", 12, "+15550142001", {"urgency": "now", "topic": "critical-incident"}, "new"),
    ("riverton-fire", 95, "+15550142002", {"urgency": "today", "good_time": "evening"}, "new"),
    ("riverton-fire", 60 * 20, "demo.member3@example.net", {"contact_kind": "email", "topic": "health"}, "assigned"),
    ("riverton-fire", 60 * 50, "+15550142004", {"who": "family", "topic": "family-relationship"}, "contacted"),
    ("riverton-fire", 60 * 24 * 12, "+15550142005", {"who": "retiree"}, "closed"),
    # For someone from another agency, only the supporter may see the number: the North region's queue.
    (
        "riverton-fire",
        40,
        "+15550142006",
        {"served_by": "other", "contact_visible_to": "supporter", "topic": "work-stress"},
        "new",
    ),
    ("capital-city-fire", 180, "+15550142007", {"urgency": "week"}, "new"),
    ("capital-city-fire", 60 * 26, "+15550142008", {"topic": "grief"}, "assigned"),
    (
        "southport-police",
        60 * 30,
        "+15550142009",
        {"served_by": "other", "contact_visible_to": "supporter"},
        "contacted",
    ),
]


def _submit(agency: Agency, contact: str, choices: dict, minutes_ago: int) -> MemberRequest:
    arguments = {
        "who": "member",
        "contact_kind": "phone",
        "contact": contact,
        "good_time": "any",
        "urgency": "today",
        "topic": "",
        "served_by": "own",
        "contact_visible_to": "coordinator",
    }
    arguments.update(choices)
    row = services.request_submit(agency=agency, **arguments)
    asked = timezone.now() - datetime.timedelta(minutes=minutes_ago)
    MemberRequest.objects.filter(pk=row.pk).update(asked_at=asked, last_asked_at=asked)
    row.refresh_from_db()
    return row


def _supporter_for(row: MemberRequest):
    ready = selectors.ready_supporters(row)
    preferred = [m for m in ready if m.user.email == SUPPORTER]
    return (preferred or ready or [None])[0]


def _log_contact(row: MemberRequest, standard: DocumentationStandard, *, checkin_contact: str = "") -> None:
    agency = row.assigned_agency
    encounter_services.encounter_log(
        author=row.assigned_to,
        agency=agency,
        standard=standard,
        submission_key=uuid.uuid4(),
        occurred_on=timezone.localdate(),
        duration_band="30-44",
        contact_mode="phone",
        initiator="self",
        recipient_relation=selectors.relation_of(row, agency),
        recipient_discipline="other",
        role_class="other",
        topics=[row.topic or "undisclosed"],
        interventions=["one-on-one"],
        referral="none",
        confidentiality_notice_given=True,
        member_request=row,
        checkin_contact=checkin_contact,
    )


def _seed_checkins(agency: Agency, standard: DocumentationStandard) -> None:
    """Four members of Riverton Fire who agreed to check-ins with the demo supporter: one answered "I'd like a
    call" (a follow-up in Alex Moreno's list), one sent and not answered yet, one sent by text (the development
    phone, /dev/phone/, shows it), one not due yet."""
    author = User.objects.get(email=SUPPORTER)
    plans = (
        (9, "checkin.one@example.net", CheckInPlan.Channel.EMAIL),
        (8, "checkin.two@example.net", CheckInPlan.Channel.EMAIL),
        (8, "+1 202 555 0188", CheckInPlan.Channel.TEXT),  # 555-01xx: a number reserved for fiction
        (2, "later@example.net", CheckInPlan.Channel.EMAIL),
    )
    for days_ago, contact, channel in plans:
        encounter_services.encounter_log(
            author=author,
            agency=agency,
            standard=standard,
            submission_key=uuid.uuid4(),
            occurred_on=timezone.localdate() - datetime.timedelta(days=days_ago),
            duration_band="15-29",
            contact_mode="in-person",
            initiator="activation" if days_ago == 9 else "peer-outreach",
            recipient_relation="own-agency",
            recipient_discipline="fire",
            role_class="firefighter-ems",
            topics=["critical-incident"],
            interventions=["one-on-one"],
            referral="none",
            confidentiality_notice_given=True,
            checkin_contact=contact,
            checkin_channel=channel,
        )
    maintenance.checkins_send_due(agency=agency)
    with agency_schema(agency):
        first = CheckIn.objects.filter(sent_at__isnull=False).order_by("plan__started_on", "due_on").first()
    if first is not None:
        encounter_services.checkin_answer(agency=agency, checkin=first, answer=CheckIn.Answer.CALL)


def seed_members(*, agencies: dict[str, Agency], standard: DocumentationStandard) -> bool:
    """Idempotent: does nothing once any request exists."""
    if MemberRequest.objects.exists():
        return False
    coordinator = User.objects.get(email=COORDINATOR)
    for slug in agencies:
        services.address_ensure(agency=agencies[slug])
    address = selectors.address_of(agencies["riverton-fire"])
    address.team_line = "555-0142"
    address.emergency_resources = "Employee Assistance Program: 555-0190 (24 hours)\nFire chaplain on call: 555-0191"
    address.save(update_fields=["team_line", "emergency_resources"])
    for slug, minutes_ago, contact, choices, state in REQUESTS:
        row = _submit(agencies[slug], contact, choices, minutes_ago)
        if state == "new":
            continue
        supporter = _supporter_for(row)
        if supporter is None:
            continue
        actor = coordinator if slug == "riverton-fire" and not row.cross_agency else None
        row = services.request_assign(actor=actor, row=row, supporter=supporter)
        if state in ("contacted", "closed"):
            _log_contact(row, standard, checkin_contact="demo.family@example.net" if row.who == "family" else "")
        if state == "closed":
            services.request_close(actor=row.assigned_to, row=row)
            closed = timezone.now() - datetime.timedelta(days=10)
            MemberRequest.objects.filter(pk=row.pk).update(closed_at=closed)
    services.contacts_destroy_due()
    _seed_checkins(agencies["riverton-fire"], standard)
    return True
