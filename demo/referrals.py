"""Demo referral directory and referrals (issue 18): fictional providers, some stale or waitlisted, one with expired
vetting; referrals from the agencies' encounters in every status; Colorado's privilege profile in force."""

from __future__ import annotations

import datetime
import random

from django.utils import timezone

from agencies.models import Agency
from encounters import services as encounter_services
from encounters.forms import referral_search_initial
from encounters.models import Encounter, Referral
from governance import services as governance_services
from governance.models import ResourceEntry
from governance.selectors import resources_suggested
from network.models import Network, Region, User

# name, kind, region slug (None: statewide), disciplines, specialties, methods, languages, accepting, wait days,
# days since confirmed, vetting (None: never recorded; else days until it runs out, negative: expired)
DIRECTORY = [
    (
        "Blue Line Counseling Group",
        "clinician",
        "north",
        ["law", "corrections"],
        ["trauma", "moral-injury"],
        ["emdr", "cpt"],
        ["English"],
        True,
        10,
        12,
        300,
    ),
    (
        "Riverton Trauma & Recovery",
        "clinician",
        "north",
        [],
        ["trauma", "sleep", "grief"],
        ["emdr", "pe"],
        ["English", "Spanish"],
        True,
        4,
        20,
        200,
    ),
    (
        "North County Family Therapy",
        "clinician",
        "north",
        [],
        ["couples", "family"],
        ["cbt"],
        ["English"],
        False,
        75,
        30,
        150,
    ),
    (
        "Lakeside Responder Wellness",
        "clinician",
        "north",
        ["fire", "ems"],
        ["trauma", "depression-anxiety"],
        ["cpt", "cbt"],
        ["English"],
        True,
        21,
        140,
        90,
    ),
    (
        "Capital Peer Clinic (first-responder track)",
        "clinician",
        "central",
        [],
        ["trauma", "suicide-risk"],
        ["cpt", "medication"],
        ["English", "Vietnamese"],
        True,
        6,
        8,
        340,
    ),
    (
        "Capital City Recovery Center",
        "treatment-program",
        "central",
        [],
        ["substance-use"],
        ["residential", "group", "medication"],
        ["English", "Spanish"],
        True,
        14,
        45,
        220,
    ),
    (
        "Harborview Couples Practice",
        "clinician",
        "south",
        [],
        ["couples", "family"],
        ["cbt"],
        ["English"],
        True,
        30,
        60,
        -20,
    ),
    (
        "South Coast Dispatch Support",
        "clinician",
        "south",
        ["911"],
        ["trauma", "depression-anxiety", "sleep"],
        ["cbt"],
        ["English", "Tagalog"],
        True,
        9,
        15,
        250,
    ),
    (
        "Statewide Public Safety EAP",
        "eap",
        None,
        [],
        ["depression-anxiety", "couples", "substance-use", "grief"],
        ["cbt"],
        ["English", "Spanish"],
        True,
        3,
        25,
        280,
    ),
    (
        "Fire Service Chaplaincy Network",
        "chaplain",
        None,
        ["fire", "ems"],
        ["grief", "moral-injury"],
        ["pastoral"],
        ["English"],
        True,
        1,
        100,
        180,
    ),
    (
        "Responder Crisis Line (24/7, peers and clinicians)",
        "crisis-line",
        None,
        [],
        ["suicide-risk", "trauma"],
        [],
        ["English", "Spanish"],
        True,
        0,
        5,
        330,
    ),
    (
        "Sunrise Residential Program",
        "treatment-program",
        None,
        [],
        ["substance-use", "trauma"],
        ["residential"],
        ["English"],
        False,
        120,
        200,
        None,
    ),
]
STATUS_MIX = ["attended", "attended", "attended", "contact-made", "waitlisted", "unanswered", "declined", "referred"]


def seed_directory(*, network: Network, state_admin: User) -> int:
    """The network's referral directory, if it has none."""
    if ResourceEntry.objects.filter(network=network).exists():
        return 0
    today = timezone.localdate()
    regions = {r.slug: r for r in Region.objects.filter(network=network)}
    for name, kind, region, disciplines, specialties, methods, languages, accepting, wait, seen, vetting in DIRECTORY:
        governance_services.resource_save(
            actor=state_admin,
            network=network,
            region=regions.get(region) if region else None,
            kind=kind,
            name=name,
            contact="555-01" + str(len(name) % 90).zfill(2),
            disciplines=disciplines,
            serves_family=kind != "treatment-program",
            serves_retirees=True,
            specialties=specialties,
            methods=methods,
            first_responder_trained=kind != "treatment-program" or "Recovery" in name,
            languages=languages,
            telehealth=kind in ("clinician", "eap", "crisis-line"),
            insurance=["Medicaid", "State employee plan"] if kind != "crisis-line" else [],
            eap_accepted=kind in ("clinician", "eap"),
            accepting_new_clients=accepting,
            wait_days=wait,
            confirmed_on=today - datetime.timedelta(days=seen),
            vetted_by="" if vetting is None else "State peer network clinical director",
            vetted_on=None if vetting is None else today - datetime.timedelta(days=365 - vetting),
            vetted_until=None if vetting is None else today + datetime.timedelta(days=vetting),
            active=True,
        )
    return len(DIRECTORY)


def seed_referrals(*, agency: Agency, rng: random.Random) -> int:
    """Referrals from the agency's encounters that named an outside referral (call inside the agency's schema), in
    every status, each to the entry the referral step suggests first (or the next ones)."""
    if Referral.objects.exists():
        return 0
    made = 0
    encounters = Encounter.objects.exclude(referral="none").order_by("occurred_on", "pk")
    for encounter in encounters:
        criteria = referral_search_initial(encounter, agency)
        suggested = list(
            resources_suggested(
                agency.network, discipline=criteria["discipline"], region_id=agency.region_id, kind=criteria["kind"]
            )[:3]
        )
        if not suggested:
            continue
        referral = encounter_services.referral_make(
            actor=encounter.author, agency=agency, encounter=encounter, resource=rng.choice(suggested)
        )
        status = rng.choice(STATUS_MIX)
        nxt = [entry for entry in suggested if entry.pk != referral.resource_id]
        if status == "waitlisted" and nxt and rng.random() < 0.5:
            encounter_services.referral_update(
                actor=encounter.author, agency=agency, referral=referral, status=status, next_resource=nxt[0]
            )
            made += 1
        elif status != "referred":
            encounter_services.referral_update(actor=encounter.author, agency=agency, referral=referral, status=status)
        at = timezone.make_aware(datetime.datetime.combine(encounter.occurred_on, datetime.time(16)))
        Referral.objects.filter(encounter=encounter).update(created_at=at)
        changed = min(at + datetime.timedelta(days=rng.randint(2, 12)), timezone.now())
        Referral.objects.filter(encounter=encounter).exclude(status="referred").update(status_changed_at=changed)
        made += 1
    return made
