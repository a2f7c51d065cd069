"""Access to one activation's pages (/activations/<uuid>/...): the guardian grants of the user's role
groups, plus coordination for the state admin and the lead agency's regional coordinator."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import Http404, HttpRequest, HttpResponse

from activations.models import Activation, ActivationGroupObjectPermission, DeployedSupporter, Deployment
from agencies.access import granting_role_groups
from agencies.selectors import memberships_of
from network.access import AccessRule, View, deny, network_roles_for
from network.models import NetworkRole

COORDINATE, SUPPORT, SUMMARY = "coordinate_activation", "support_activation", "view_activation_summary"
# Not a guardian grant: the user holds a place on one of the activation's deployments (issue 19), accepted or
# confirmed, through an active supporting membership of an active home agency. A confirmed place also gives
# SUPPORT: the deployed supporter works their own assignments ("My assignments") and sees nothing more.
DEPLOYED = "deployed"


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


def deployed_places(user) -> QuerySet[DeployedSupporter]:
    """The places `user` holds on deployments under way (accepted or confirmed), counted only through an active
    membership in the home agency, which must be active: a suspended agency's supporters lose them at once."""
    home_ids = [m.agency_id for m in memberships_of(user)]
    return DeployedSupporter.objects.filter(
        supporter=user,
        home_agency_id__in=home_ids,
        status__in=[DeployedSupporter.Status.ACCEPTED, DeployedSupporter.Status.CONFIRMED],
        deployment__status__in=[Deployment.Status.REQUESTED, Deployment.Status.ACTIVE],
    )


def with_deployed(activations: QuerySet[Activation], user) -> QuerySet[Activation]:
    """`activations`, each carrying the status of the user's place on one of its deployments (`.deployed_as`:
    'confirmed', 'accepted' or None), in the same statement."""
    place = deployed_places(user).filter(deployment__activation=OuterRef("pk")).order_by("status")
    return activations.annotate(deployed_as=Subquery(place.values("status")[:1]))


def activation_perms_for(
    user, activation, *, granted: list[str] | None = None, deployed_as: str | None = "unread"
) -> set[str]:
    """What `user` may do in `activation`: their grants on it (`granted`, when the caller read them with
    the activation, else read here), coordination for the state admin and the lead agency's regional
    coordinator, and DEPLOYED (with SUPPORT once confirmed) for a supporter deployed to it (`deployed_as`, when
    the caller read it with `with_deployed`, else read here)."""
    if activation is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return set()
    if granted is None:
        granted = (
            granted_codenames(user).filter(content_object=activation).values_list("permission__codename", flat=True)
        )
    held = set(granted)
    if deployed_as == "unread":
        place = deployed_places(user).filter(deployment__activation=activation).order_by("status").first()
        deployed_as = place.status if place is not None else None
    if deployed_as is not None:
        held.add(DEPLOYED)
        if deployed_as == DeployedSupporter.Status.CONFIRMED:
            held.add(SUPPORT)
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
            activations = with_deployed(with_grants(activations, request.user), request.user)
            activation = activations.filter(uuid=activation_uuid).first()
            granted = (activation.granted or []) if activation is not None else []
            deployed_as = activation.deployed_as if activation is not None else None
            held = activation_perms_for(request.user, activation, granted=granted, deployed_as=deployed_as)
            if not held & allowed:
                deny(request)
            request.activation = activation
            request.activation_perms = held
            return view(request, *args, **kwargs)

        wrapper.access_rule = AccessRule(scope="activation", activation_perms=allowed)
        return wrapper

    return decorator


def deployment_view(*perms: str, annotate: Callable[[], dict] | None = None) -> Callable[[View], View]:
    """A page of one deployment (/activations/<uuid>/deployments/<deployment_uuid>/...): `activation_view(*perms)`,
    then the deployment, which must belong to that activation (else 404). The view receives `request.deployment`
    and `request.deployed_person`: the user's own place on it (a DeployedSupporter) or None. A user admitted only as
    DEPLOYED must hold a place on this very deployment."""

    def decorator(view: View) -> View:
        @wraps(view)
        def inner(request: HttpRequest, *args, deployment_uuid, **kwargs) -> HttpResponse:
            deployment = Deployment.objects.filter(activation=request.activation, uuid=deployment_uuid).first()
            if deployment is None:
                raise Http404("Not found.")
            deployment.activation = request.activation  # read once, with the user's rights on it
            place = None
            if DEPLOYED in request.activation_perms:
                place = (
                    deployed_places(request.user).filter(deployment=deployment).select_related("home_agency").first()
                )
            if place is None and not (request.activation_perms - {DEPLOYED, SUPPORT}) & set(perms):
                deny(request)
            request.deployment = deployment
            request.deployed_person = place
            return view(request, *args, **kwargs)

        wrapped = activation_view(*perms, annotate=annotate)(inner)
        wrapped.access_rule = AccessRule(scope="activation", activation_perms=frozenset(perms))
        return wrapped

    return decorator
