"""Load the demo network: fictional agencies, people and roles. Idempotent; demo mode only."""

import datetime
import random

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from agencies import services as agency_services
from agencies.models import Agency, Discipline, Role
from agencies.tenancy import agency_schema
from demo.activations import seed_activations
from demo.deployments import seed_deployments
from demo.encounters import DEMO_HISTORY_DAYS, seed_encounters
from demo.governance import seed_governance
from demo.members import seed_members
from demo.phone import seed_phones
from demo.referrals import seed_directory, seed_referrals
from demo.roster import seed_roster
from network import services as network_services
from network import standards
from network.models import NetworkRole
from reporting import services as reporting_services
from reporting.models import SnapshotRun

DEMO_PASSWORD = "muster-demo-2026"  # nosec B105  # the published password of the fictional demo logins

REGIONS = [("north", "North Region"), ("central", "Central Region"), ("south", "South Region")]

AGENCIES = [
    # slug, name, discipline, region
    ("riverton-fire", "Riverton Fire Department", Discipline.FIRE, "north"),
    ("riverton-police", "Riverton Police Department", Discipline.LAW_ENFORCEMENT, "north"),
    ("north-county-ems", "North County EMS", Discipline.EMS, "north"),
    ("capital-city-911", "Capital City Emergency Communications (911)", Discipline.DISPATCH, "central"),
    ("capital-city-fire", "Capital City Fire Rescue", Discipline.FIRE, "central"),
    ("central-state-prison", "Central State Correctional Facility", Discipline.CORRECTIONS, "central"),
    ("southport-police", "Southport Police Department", Discipline.LAW_ENFORCEMENT, "south"),
    ("south-county-ems", "South County EMS", Discipline.EMS, "south"),
    ("harbor-county-jail", "Harbor County Detention Center", Discipline.CORRECTIONS, "south"),
    ("south-county-911", "South County 911", Discipline.DISPATCH, "south"),
]

# One easy login per role; listed in the README and on the sign-in page in demo mode.
DEMO_LOGINS = [
    ("state.admin@example.org", "Dana Whitfield", "network", NetworkRole.Role.STATE_ADMIN, None),
    ("regional@example.org", "Marcus Oyelaran", "network", NetworkRole.Role.REGIONAL_COORDINATOR, "north"),
    ("agency.admin@example.org", "Priya Raman", "riverton-fire", Role.AGENCY_ADMIN, None),
    ("coordinator@example.org", "Tom Kowalski", "riverton-fire", Role.COORDINATOR, None),
    ("supporter@example.org", "Alex Moreno", "riverton-fire", Role.PEER_SUPPORTER, None),
    ("clinician@example.org", "Dr. Helen Park", "riverton-fire", Role.CLINICIAN, None),
    ("chief@example.org", "Chief Ray Delgado", "riverton-fire", Role.CHIEF, None),
]
# A Capital City peer supporter deployed to Riverton's Route 9 bus crash (issue 19, demo/deployments.py): checks in on a
# phone. Added after the generated people, so they and their seeded roster stay as they were.
DEPLOYED_LOGIN = ("deployed@example.org", "Sam Castillo", "capital-city-fire")
# People who work in two agencies: (email, second agency, role there).
SECOND_MEMBERSHIPS = [
    ("supporter@example.org", "riverton-police", Role.PEER_SUPPORTER),
    ("clinician@example.org", "riverton-police", Role.CLINICIAN),
    ("clinician@example.org", "north-county-ems", Role.CLINICIAN),
]

FIRST_NAMES = [
    "Jordan",
    "Casey",
    "Riley",
    "Morgan",
    "Taylor",
    "Jamie",
    "Avery",
    "Quinn",
    "Rowan",
    "Skyler",
    "Devon",
    "Hayden",
    "Emerson",
    "Reese",
    "Parker",
    "Sage",
    "Kendall",
    "Logan",
    "Drew",
    "Cameron",
    "Maria",
    "Luis",
    "Aisha",
    "Kenji",
    "Fatima",
    "Nikolai",
    "Grace",
    "Omar",
    "Lena",
    "Darius",
]
LAST_NAMES = [
    "Alvarez",
    "Brooks",
    "Chen",
    "Dawson",
    "Ellis",
    "Fischer",
    "Garcia",
    "Hughes",
    "Ibrahim",
    "Jensen",
    "Kim",
    "Lopez",
    "Mitchell",
    "Nguyen",
    "Okafor",
    "Patel",
    "Quintero",
    "Reyes",
    "Sullivan",
    "Thompson",
    "Usman",
    "Vasquez",
    "Walsh",
    "Yamamoto",
    "Zimmerman",
]
# Generated staff per agency, beyond the demo logins.
ROLE_MIX = [
    Role.AGENCY_ADMIN,
    Role.CHIEF,
    Role.COORDINATOR,
    Role.PEER_SUPPORTER,
    Role.PEER_SUPPORTER,
    Role.PEER_SUPPORTER,
]


class Command(BaseCommand):
    help = "Create the demo network (safe to run again: existing records are kept)."

    def handle(self, *args, **options):
        if not settings.MUSTER_DEMO:
            raise CommandError("seed_demo only runs in demo mode (MUSTER_DEMO=1); it must never touch real data.")
        User = get_user_model()
        # Seeded generators make the same fictional demo network every time; nothing here is a secret.
        rng = random.Random(2026)  # nosec B311
        network = network_services.network_get_or_create(
            name="Example State Peer Support Network", slug="example-state"
        )
        regions = {
            slug: network_services.region_get_or_create(network=network, name=name, slug=slug) for slug, name in REGIONS
        }

        demo_hash = make_password(DEMO_PASSWORD)  # hash once: 60 separate hashes take half a minute

        def person(email: str, full_name: str):
            user = User.objects.filter(email=email).first()
            if user is None:
                user = network_services.user_create(email=email, full_name=full_name)
                user.password = demo_hash
                user.save(update_fields=["password"])
            return user

        state_admin = person(*DEMO_LOGINS[0][:2])
        agencies: dict[str, Agency] = {}
        for slug, name, discipline, region_slug in AGENCIES:
            agency = Agency.objects.filter(slug=slug).first()
            if agency is None:
                agency = agency_services.agency_create(
                    actor=state_admin,
                    network=network,
                    name=name,
                    slug=slug,
                    discipline=discipline,
                    region=regions[region_slug],
                    provision_async=False,
                )
                self.stdout.write(f"  agency {slug}: schema ready in {agency.provision_seconds:.2f}s")
            elif agency.status != Agency.Status.ACTIVE:
                agency = agency_services.agency_provision(agency_id=agency.pk)
            agencies[slug] = agency

        for email, full_name, where, role, region_slug in DEMO_LOGINS:
            user = person(email, full_name)
            if where == "network":
                network_services.network_role_grant(
                    actor=state_admin,
                    user=user,
                    network=network,
                    role=role,
                    region=regions[region_slug] if region_slug else None,
                )
            else:
                agency_services.membership_add(actor=state_admin, user=user, agency=agencies[where], role=role)
        for email, slug, role in SECOND_MEMBERSHIPS:
            agency_services.membership_add(
                actor=state_admin, user=User.objects.get(email=email), agency=agencies[slug], role=role
            )

        used = set()
        for slug, agency in agencies.items():
            for role in ROLE_MIX:
                if slug == "riverton-fire" and role in (Role.AGENCY_ADMIN, Role.CHIEF, Role.COORDINATOR):
                    continue  # the demo logins hold these roles there
                while True:
                    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
                    if (first, last) not in used:
                        used.add((first, last))
                        break
                email = f"{first.lower()}.{last.lower()}@{slug}.example.org"
                user = person(email, f"{first} {last}")
                agency_services.membership_add(actor=state_admin, user=user, agency=agency, role=role)
        # Mutual-aid style double memberships among generated supporters.
        for left, right in (("capital-city-fire", "capital-city-911"), ("southport-police", "harbor-county-jail")):
            supporter = agencies[left].memberships.filter(role=Role.PEER_SUPPORTER).order_by("pk").first()
            agency_services.membership_add(
                actor=state_admin, user=supporter.user, agency=agencies[right], role=Role.PEER_SUPPORTER
            )

        email, full_name, slug = DEPLOYED_LOGIN
        agency_services.membership_add(
            actor=state_admin, user=person(email, full_name), agency=agencies[slug], role=Role.PEER_SUPPORTER
        )

        seed_roster(rng=random.Random(7))  # nosec B311  # seeded demo data, not a secret
        standards.policy_update(actor=state_admin, network=network, notes_enabled=True, notes_retention_days=90)
        standard = standards.standard_ensure_default(network=network)
        encounter_count = 0
        for agency in agencies.values():
            with agency_schema(agency):
                agency_rng = random.Random(agency.slug)  # nosec B311  # seeded demo data, not a secret
                encounter_count += seed_encounters(agency=agency, standard=standard, rng=agency_rng)
        if encounter_count:
            self.stdout.write(f"  {encounter_count} demo encounters logged across the agencies")
        if seed_governance(network=network, agencies=agencies, state_admin=state_admin):
            self.stdout.write("  demo agreements (one expiring soon, one awaiting approval) and protocols")
        if seed_phones():
            self.stdout.write("  demo mobile numbers for callouts by text (they print here and at /dev/phone/)")
        if seed_activations(agencies=agencies, standard=standard):
            self.stdout.write("  demo activations: one open across three agencies, one closed")
        if seed_deployments(agencies=agencies):
            self.stdout.write("  demo deployment: four supporters of two agencies to the bus crash, in rotations")
        if seed_members(agencies=agencies, standard=standard):
            self.stdout.write("  demo members' requests (every state, one urgent, one cross-agency) and check-ins")
        if seed_directory(network=network, state_admin=state_admin):
            # Colorado's privilege profile in force (docs/privilege.md); notes stay allowed under it.
            standards.policy_update(actor=state_admin, network=network, privilege_profile="co")
            referral_count = 0
            for agency in agencies.values():
                with agency_schema(agency):
                    referral_count += seed_referrals(agency=agency, rng=random.Random(f"refer-{agency.slug}"))  # nosec B311
            self.stdout.write(f"  referral directory, {referral_count} referrals, Colorado's privilege profile")
        if not SnapshotRun.objects.filter(status=SnapshotRun.Status.DONE).exists():
            run = reporting_services.run_request(full=True, enqueue=False)
            reporting_services.run_execute(run_id=run.pk)
            self.stdout.write("  reporting snapshots built")
        if encounter_count:
            # The demo network has been running since its encounters began, so its past periods are due.
            Agency.objects.filter(slug__in=agencies).update(
                created_at=timezone.now() - datetime.timedelta(days=DEMO_HISTORY_DAYS + 10)
            )
        published = reporting_services.publication_publish_due(network=network)
        if published:
            self.stdout.write(f"  {len(published)} periods of leadership figures published")

        self.stdout.write(
            self.style.SUCCESS(
                f"Demo network ready: {Agency.objects.count()} agencies, {User.objects.count()} users. "
                f"Password for every demo login: {DEMO_PASSWORD}"
            )
        )
