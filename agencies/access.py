"""Access to agency pages (/a/<slug>/): the user must be an active member of the agency, in a listed
role. The rules and the network-level decorators are in network/access.py."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from guardian.core import ObjectPermissionChecker

from agencies.models import Membership, Role, role_group_name
from agencies.selectors import memberships_of
from network.access import AccessRule, View, deny


def membership_for(user, agency, roles: Iterable[str] | None = None) -> Membership | None:
    """The user's active membership in `agency` (an active agency), if it holds one of `roles` (any role
    when None). Read from the request's memberships (`memberships_of`), which the navigation shares."""
    if agency is None:
        return None
    membership = next((m for m in memberships_of(user) if m.agency_id == agency.pk), None)
    if membership is None or (roles is not None and membership.role not in set(roles)):
        return None
    return membership


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
                deny(request, agency=agency)
            request.membership = membership
            return view(request, *args, **kwargs)

        wrapper.access_rule = AccessRule(scope="agency", agency_roles=allowed)
        return wrapper

    return decorator


def granting_role_groups(user) -> list[str]:
    """Names of the role groups whose activation grants `user` may use: one per active membership in an
    ACTIVE agency. A suspended agency's people keep their memberships (suspension is reversible) but
    lose every activation right at once; reinstating the agency restores them."""
    return [role_group_name(m.agency_id, m.role) for m in memberships_of(user)]


def object_permission_checker(user) -> ObjectPermissionChecker:
    """A fresh guardian checker. Never share one across agencies: its cache is not schema-aware."""
    return ObjectPermissionChecker(user)
