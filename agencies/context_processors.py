"""Navigation shared by every page: the user's agencies, network role and demo flag."""

from django.conf import settings

from agencies.selectors import memberships_of
from network.access import network_roles_for


def navigation(request):
    context = {"demo_mode": settings.MUSTER_DEMO, "current_agency": getattr(request, "tenant", None)}
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        memberships = memberships_of(user)
        context["nav_memberships"] = memberships
        context["nav_network_roles"] = network_roles_for(user)
        tenant = getattr(request, "tenant", None)
        context["current_membership"] = next((m for m in memberships if tenant and m.agency_id == tenant.pk), None)
        # Pages outside an agency (activations, account) link home to the agency last visited, else the first.
        last = getattr(request, "session", {}).get("last_agency")
        context["nav_home"] = next(
            (m for m in memberships if m.agency.slug == last), memberships[0] if memberships else None
        )
    return context
