"""Demo mobile numbers for callouts by text and voice (docs/callout.md): fictional 555-01xx numbers, so under
`./dev up` the texts and calls print in the terminal and show at /dev/phone/."""

from __future__ import annotations

from django.utils import timezone

from agencies.models import Membership, Role
from network import services as network_services
from network.models import MobileNumber, User

# The demo logins a person tries first, then three more of Riverton Fire's supporters.
DEMO_PHONES = ["coordinator@example.org", "supporter@example.org"]
EXTRA_RIVERTON_SUPPORTERS = 3


def demo_phone_people() -> list[User]:
    people = list(User.objects.filter(email__in=DEMO_PHONES).order_by("email"))
    extra = (
        Membership.objects.filter(agency__slug="riverton-fire", role=Role.PEER_SUPPORTER, is_active=True)
        .exclude(user__email__in=DEMO_PHONES)
        .select_related("user")
        .order_by("user__email")[:EXTRA_RIVERTON_SUPPORTERS]
    )
    return people + [m.user for m in extra]


def seed_phones() -> int:
    """Give the demo people confirmed numbers (once). Returns how many were added."""
    added = 0
    for index, user in enumerate(demo_phone_people()):
        if MobileNumber.objects.filter(user=user).exists():
            continue
        network_services.mobile_number_set(actor=user, number=f"+1 202 555 01{10 + index:02d}")
        # The demo's phones are fictional: nobody could read a code, so the numbers are marked confirmed here.
        MobileNumber.objects.filter(user=user).update(confirmed_at=timezone.now())
        added += 1
    return added
