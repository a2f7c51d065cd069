"""Demo encounters: a few months of realistic, fictional support contacts in one agency."""

from __future__ import annotations

import datetime
import random
import uuid

from django.utils import timezone

from agencies.models import Agency
from agencies.selectors import clinicians_of, supporters_of
from encounters import services as encounter_services
from encounters.forms import DISCIPLINE_DEFAULTS
from encounters.models import Encounter, FollowUp
from network.models import DocumentationStandard

# Short, non-identifying notes of the kind a supporter would leave for the next contact.
NOTES = [
    "Sleeping badly since the call; agreed to check in after next shift.",
    "Wants to talk again after the debrief. Prefers text first.",
    "Family stress more than work. Gave EAP number.",
    "Doing better than last week. Light touch follow-up.",
    "Asked about the clinician; explained how a referral works.",
    "Mostly wanted to be heard. No follow-up needed unless they reach out.",
]
WEIGHTED_TOPICS = (
    ["critical-incident"] * 4
    + ["work-stress"] * 4
    + ["family-relationship"] * 2
    + ["grief", "finances", "health", "substance-use", "undisclosed", "undisclosed", "other"]
)


# How far back the demo's encounters go.
DEMO_HISTORY_DAYS = 120


def seed_encounters(
    *, agency: Agency, standard: DocumentationStandard, rng: random.Random, days: int = DEMO_HISTORY_DAYS
) -> int:
    """Create encounters if the agency has none (call inside the agency's schema). Returns how many."""
    if Encounter.objects.exists():
        return 0
    supporters = list(supporters_of(agency).select_related("user"))
    clinicians = [m.user for m in clinicians_of(agency)]
    if not supporters:
        return 0
    today = timezone.localdate()
    discipline, role_class = DISCIPLINE_DEFAULTS.get(agency.discipline, ("other", "other"))
    created = 0
    for _ in range(rng.randint(35, 60)):
        author = rng.choice(supporters).user
        occurred_on = today - datetime.timedelta(days=rng.randint(0, days))
        referral = rng.choices(["none", "clinician", "eap", "chaplain", "crisis-line"], [70, 12, 10, 5, 3])[0]
        if referral == "clinician" and not clinicians:
            referral = "eap"
        wants_follow_up = rng.random() < 0.35
        follow_up_due_on = occurred_on + datetime.timedelta(days=rng.choice([2, 3, 7, 14])) if wants_follow_up else None
        topics = sorted({rng.choice(WEIGHTED_TOPICS) for _ in range(rng.choice([1, 1, 2]))})
        encounter, _ = encounter_services.encounter_log(
            author=author,
            agency=agency,
            standard=standard,
            submission_key=uuid.uuid4(),
            occurred_on=occurred_on,
            duration_band=rng.choice(["under-15", "15-29", "15-29", "30-44", "45-59", "60-plus"]),
            contact_mode=rng.choice(["in-person", "in-person", "phone", "phone", "text", "video"]),
            initiator=rng.choice(["self", "peer-outreach", "peer-outreach", "supervisor-referral", "family"]),
            recipient_relation=rng.choices(["own-agency", "other-agency", "family", "retiree"], [80, 10, 6, 4])[0],
            recipient_discipline=discipline,
            role_class=role_class,
            topics=topics,
            interventions=[rng.choices(["one-on-one", "follow-up", "defusing", "family"], [70, 20, 6, 4])[0]],
            referral=referral,
            referred_to=rng.choice(clinicians) if referral == "clinician" else None,
            visit_number=rng.choices([1, 2, 3, 4], [60, 25, 10, 5])[0],
            confidentiality_notice_given=rng.random() < 0.9,
            notes=rng.choice(NOTES) if rng.random() < 0.4 else "",
            follow_up_due_on=follow_up_due_on,
        )
        created += 1
        # Entered the day it happened or up to two days later (never in the future): leadership figures
        # count an encounter in the period in which it was entered.
        entered_on = min(occurred_on + datetime.timedelta(days=rng.choice([0, 0, 0, 1, 2])), today)
        entered_at = timezone.make_aware(datetime.datetime.combine(entered_on, datetime.time(rng.randint(8, 20))))
        entered_at = min(entered_at, timezone.now())
        Encounter.objects.filter(pk=encounter.pk).update(created_at=entered_at)
        FollowUp.objects.filter(encounter=encounter).update(created_at=entered_at)
        follow_up = encounter.follow_ups.first()
        if follow_up and follow_up.due_on < today and rng.random() < 0.75:
            FollowUp.objects.filter(pk=follow_up.pk).update(
                status=FollowUp.Status.DONE,
                outcome=rng.choice(["contacted", "contacted", "another", "referred", "declined"]),
                completed_at=timezone.make_aware(datetime.datetime.combine(follow_up.due_on, datetime.time(15))),
            )
        if rng.random() < 0.04:
            encounter_services.disclosure_record(
                actor=author,
                agency=agency,
                encounter=encounter,
                exception=rng.choice(["suicide-risk", "consent"]),
                disclosed_at=timezone.make_aware(datetime.datetime.combine(occurred_on, datetime.time(18))),
                notified=["clinician", "crisis-team"],
                written_notice_sent_on=occurred_on + datetime.timedelta(days=2),
            )
    return created
