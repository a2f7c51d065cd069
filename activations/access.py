"""Access to one activation's pages (/activations/<uuid>/...): the guardian grants of the user's role
groups, plus coordination for the state admin and the lead agency's regional coordinator."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import OuterRef, QuerySet
from django.http import Http404, HttpRequest, HttpResponse

from activations.models import Activation, ActivationGroupObjectPermission
from agencies.access import granting_role_groups
from network.access import AccessRule, View, deny, network_roles_for
from network.models import NetworkRole

COORDINATE, SUPPORT, SUMMARY = "coordinate_activation", "support_activation", "view_activation_summary"


def granted_codenames(user):
    """The guardian grants `user` may use, as a queryset of (activation, codename) rows: those of the role
    groups of their active memberships in active agencies (grants go only to participating agencies).

    Only group grants through `granting_role_groups` count: a group the user still sits in, or a direct
    user grant, never outlives the membership or the agency's suspension."""
    return ActivationGroupObjectPermission.objects.filter(group__name__in=granting_role_groups(user))


def with_grants(activations: QuerySet[Activation], user) -> QuerySet[Activation]:
    """`activations`, each carrying the user's grants on it (`.granted`, a list of codenames), read in the
    same statement: for `activation_perms_for(..., granted=activation.granted)` on a page listing several."""
    grants = granted_codenames(user).filter(content_object=OuterRef("pk")).values("permission__codename")
    return activations.annotate(granted=ArraySubquery(grants))


def activation_perms_for(user, activation, *, granted: list[str] | None = None) -> set[str]:
    """What `user` may do in `activation`: their grants on it (`granted`, when the caller read them with
    the activation, else read here), plus coordination for the state admin and the lead agency's regional
    coordinator."""
    if activation is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return set()
    if granted is None:
        granted = (
            granted_codenames(user).filter(content_object=activation).values_list("permission__codename", flat=True)
        )
    held = set(granted)
    for role in network_roles_for(user):
        if role.network_id != activation.network_id:
            continue
        if role.role == NetworkRole.Role.STATE_ADMIN or role.region_id == activation.lead_agency.region_id:
            held |= {COORDINATE, SUMMARY}
    return held


def activation_view(*perms: str, annotate: Callable[[], dict] | None = None) -> Callable[[View], View]:
    """A page of one activation (public schema, /activations/<uuid>/...): the user must hold one of
    `perms` on it. The view receives `request.activation` and `request.activation_perms`. `annotate`: what
    else the page reads in the activation's own statement (a dict of annotations, network/inline.py)."""
    if not perms:
        raise ValueError("activation_view needs at least one permission.")
    allowed = frozenset(perms)

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args, activation_uuid, **kwargs) -> HttpResponse:
            if request.tenant is not None:
                raise Http404("Not found.")
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            # The activation and the user's grants on it, in one statement.
            activations = Activation.objects.select_related("lead_agency__region", "network", "protocol")
            if annotate is not None:
                activations = activations.annotate(**annotate())
            activation = with_grants(activations, request.user).filter(uuid=activation_uuid).first()
            granted = (activation.granted or []) if activation is not None else []
            held = activation_perms_for(request.user, activation, granted=granted)
            if not held & allowed:
                deny(request)
            request.activation = activation
            request.activation_perms = held
            return view(request, *args, **kwargs)

        wrapper.access_rule = AccessRule(scope="activation", activation_perms=allowed)
        return wrapper

    return decorator
