"""Access control: the rules that decide who may open a view, and the network-level ones.

Every view is wrapped by exactly one access decorator. Each records its rule on the view
(`view.access_rule`), and tests/test_url_access_matrix.py walks every URL pattern and fails on
a view without a rule or on any identity the rule does not admit getting through.

The decorators live with what they guard, each layer building on the one below:
`network.access` (public, signed-in and network-role pages), `agencies.access` (pages under
/a/<slug>/, by membership) and `activations.access` (one activation's pages, by grant).

Anything a user may not see answers 404, never 403: the response must not confirm that a
record or an agency page exists.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse

from network.audit import AuditAction, audit_record
from network.models import AuditEvent, NetworkRole
from network.request_cache import per_request

View = Callable[..., HttpResponse]


@dataclass(frozen=True)
class AccessRule:
    """Who a view admits. `scope` is public, authenticated, agency, network or activation."""

    scope: str
    agency_roles: frozenset[str] = field(default_factory=frozenset)
    network_roles: frozenset[str] = field(default_factory=frozenset)
    activation_perms: frozenset[str] = field(default_factory=frozenset)


def deny(request: HttpRequest, *, agency=None) -> None:
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


def network_roles_for(user, roles: Iterable[str] | None = None) -> list[NetworkRole]:
    """The user's network roles (those in `roles` when given), read once per request."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return []
    held = per_request(
        ("network_roles", user.pk),
        lambda: list(NetworkRole.objects.filter(user=user).select_related("region", "network").order_by("pk")),
    )
    if roles is None:
        return list(held)
    wanted = {str(role) for role in roles}
    return [role for role in held if role.role in wanted]


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
                deny(request)
            request.network_roles = held
            return view(request, *args, **kwargs)

        wrapper.access_rule = AccessRule(scope="network", network_roles=allowed)
        return wrapper

    return decorator


def is_state_admin(request: HttpRequest) -> bool:
    return any(role.role == NetworkRole.Role.STATE_ADMIN for role in getattr(request, "network_roles", []))


def region_ids_for(request: HttpRequest) -> set[int] | None:
    """Regions a network user may see: None means every region (state admin)."""
    if is_state_admin(request):
        return None
    return {role.region_id for role in request.network_roles if role.region_id}
