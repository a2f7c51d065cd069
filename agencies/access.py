"""Access control: the one place that decides who may open a view.

Every view is wrapped by exactly one of these decorators. Each records its rule on the view
(`view.access_rule`), and tests/test_url_access_matrix.py walks every URL pattern and fails on
a view without a rule or on any identity the rule does not admit getting through.

Anything a user may not see answers 404, never 403: the response must not confirm that a
record or an agency page exists.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from guardian.core import ObjectPermissionChecker

from agencies.models import Agency, Membership, Role, role_group_name
from network.audit import AuditAction, audit_record
from network.models import AuditEvent, NetworkRole

View = Callable[..., HttpResponse]


@dataclass(frozen=True)
class AccessRule:
    """Who a view admits. `scope` is public, authenticated, agency, network or activation."""

    scope: str
    agency_roles: frozenset[str] = field(default_factory=frozenset)
    network_roles: frozenset[str] = field(default_factory=frozenset)
    activation_perms: frozenset[str] = field(default_factory=frozenset)


def _deny(request: HttpRequest, *, agency=None) -> None:
    audit_record(
        action=AuditAction.ACCESS_DENIED,
        actor=request.user,
        agency=agency,
        object_type="url",
        object_id=(request.resolver_match.view_name if request.resolver_match else "")[:64],
        outcome=AuditEvent.Outcome.DENIED,
        request=request,
    )
    raise Http404("Not found.")


def membership_for(user, agency, roles: Iterable[str] | None = None) -> Membership | None:
    """The user's active membership in `agency`, if it holds one of `roles` (any role when None)."""
    if not getattr(user, "is_authenticated", False) or agency is None or not user.is_active:
        return None
    membership = Membership.objects.filter(user=user, agency=agency, is_active=True).first()
    if membership is None or (roles is not None and membership.role not in set(roles)):
        return None
    return membership


def network_roles_for(user, roles: Iterable[str] | None = None) -> list[NetworkRole]:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return []
    qs = NetworkRole.objects.filter(user=user).select_related("region", "network")
    if roles is not None:
        qs = qs.filter(role__in=list(roles))
    return list(qs)


def public_view(view: View) -> View:
    """Open to everyone, signed in or not (sign-in page, health check, invitation links)."""
    view.access_rule = AccessRule(scope="public")
    return view


def login_view(view: View) -> View:
    """Any signed-in user; the view must only show the user's own things."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    wrapper.access_rule = AccessRule(scope="authenticated")
    return wrapper


def agency_view(*roles: Role | str) -> Callable[[View], View]:
    """A page under /a/<slug>/: the user must be an active member of that agency with one of `roles`.

    The wrapped view receives `request.tenant` (the agency) and `request.membership`; it does not
    receive the `agency_slug` URL argument.
    """
    if not roles:
        raise ValueError("agency_view needs at least one role; list every role explicitly.")
    allowed = frozenset(str(role) for role in roles)

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args, agency_slug: str, **kwargs) -> HttpResponse:
            agency = request.tenant
            if agency is None or agency.slug != agency_slug:
                raise Http404("Not found.")
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            membership = membership_for(request.user, agency, allowed)
            if membership is None:
                _deny(request, agency=agency)
            request.membership = membership
            return view(request, *args, **kwargs)

        wrapper.access_rule = AccessRule(scope="agency", agency_roles=allowed)
        return wrapper

    return decorator


def network_view(*roles: NetworkRole.Role | str) -> Callable[[View], View]:
    """A network page (public schema): the user must hold one of the network `roles`.

    The wrapped view receives `request.network_roles`; a regional coordinator's view must
    narrow what it shows to `region_ids_for(request)`.
    """
    if not roles:
        raise ValueError("network_view needs at least one role.")
    allowed = frozenset(str(role) for role in roles)

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if request.tenant is not None:
                raise Http404("Not found.")
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            held = network_roles_for(request.user, allowed)
            if not held:
                _deny(request)
            request.network_roles = held
            return view(request, *args, **kwargs)

        wrapper.access_rule = AccessRule(scope="network", network_roles=allowed)
        return wrapper

    return decorator


COORDINATE, SUPPORT, SUMMARY = "coordinate_activation", "support_activation", "view_activation_summary"


def granting_role_groups(user) -> list[str]:
    """Names of the role groups whose activation grants `user` may use: one per active membership in an
    ACTIVE agency. A suspended agency's people keep their memberships (suspension is reversible) but
    lose every activation right at once; reinstating the agency restores them."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return []
    memberships = Membership.objects.filter(user=user, is_active=True, agency__status=Agency.Status.ACTIVE)
    return [role_group_name(agency_id, role) for agency_id, role in memberships.values_list("agency_id", "role")]


def activation_perms_for(user, activation) -> set[str]:
    """What `user` may do in `activation`: the guardian grants of the role groups of their active
    memberships in active agencies (grants go only to participating agencies), plus coordination for the
    state admin and the lead agency's regional coordinator.

    Only group grants through `granting_role_groups` count: a group the user still sits in, or a direct
    user grant, never outlives the membership or the agency's suspension."""
    if activation is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return set()
    from activations.models import ActivationGroupObjectPermission

    held = set(
        ActivationGroupObjectPermission.objects.filter(
            content_object=activation, group__name__in=granting_role_groups(user)
        ).values_list("permission__codename", flat=True)
    )
    for role in network_roles_for(user):
        if role.network_id != activation.network_id:
            continue
        if role.role == NetworkRole.Role.STATE_ADMIN or role.region_id == activation.lead_agency.region_id:
            held |= {COORDINATE, SUMMARY}
    return held


def activation_view(*perms: str) -> Callable[[View], View]:
    """A page of one activation (public schema, /activations/<uuid>/...): the user must hold one of
    `perms` on it. The view receives `request.activation` and `request.activation_perms`."""
    if not perms:
        raise ValueError("activation_view needs at least one permission.")
    allowed = frozenset(perms)

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args, activation_uuid, **kwargs) -> HttpResponse:
            from activations.models import Activation

            if request.tenant is not None:
                raise Http404("Not found.")
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            activation = (
                Activation.objects.select_related("lead_agency__region", "network").filter(uuid=activation_uuid).first()
            )
            held = activation_perms_for(request.user, activation)
            if not held & allowed:
                _deny(request)
            request.activation = activation
            request.activation_perms = held
            return view(request, *args, **kwargs)

        wrapper.access_rule = AccessRule(scope="activation", activation_perms=allowed)
        return wrapper

    return decorator


def is_state_admin(request: HttpRequest) -> bool:
    return any(role.role == NetworkRole.Role.STATE_ADMIN for role in getattr(request, "network_roles", []))


def region_ids_for(request: HttpRequest) -> set[int] | None:
    """Regions a network user may see: None means every region (state admin)."""
    if is_state_admin(request):
        return None
    return {role.region_id for role in request.network_roles if role.region_id}


def object_permission_checker(user) -> ObjectPermissionChecker:
    """A fresh guardian checker. Never share one across agencies: its cache is not schema-aware."""
    return ObjectPermissionChecker(user)
