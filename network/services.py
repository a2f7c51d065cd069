"""Writes to the network's structure: the network, users, regions, network roles."""

from __future__ import annotations

import datetime

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from network.audit import AuditAction, audit_record
from network.models import Network, NetworkRole, Region
from network.sessions import lockout_username
from network.standards import policy_ensure, standard_ensure_default

User = get_user_model()


def network_get_or_create(*, name: str, slug: str) -> Network:
    """The network, created with its policy and version 1 of the documentation standard, so that reading
    either (`network.selectors.policy_for`, `standard_current`) never has to create it."""
    with transaction.atomic():
        network, _ = Network.objects.get_or_create(slug=slug, defaults={"name": name})
        policy_ensure(network=network)
        standard_ensure_default(network=network)
    return network


def region_get_or_create(*, network: Network, name: str, slug: str) -> Region:
    region, _ = Region.objects.get_or_create(network=network, slug=slug, defaults={"name": name})
    return region


def user_create(*, email: str, full_name: str = "", password: str | None = None):
    """A user account. People normally arrive through an invitation; this is for seeds and tests."""
    return User.objects.create_user(email=email, password=password, full_name=full_name)


def network_role_grant(*, actor, user, network: Network, role: str, region: Region | None = None) -> NetworkRole:
    with transaction.atomic():
        network_role, created = NetworkRole.objects.get_or_create(user=user, network=network, role=role, region=region)
        if created:
            audit_record(action=AuditAction.NETWORK_ROLE_GRANTED, actor=actor, obj=network_role)
    return network_role


def user_sessions_end(*, user) -> int:
    """Delete every session of `user`, on every device. Returns how many ended."""
    from django.contrib.sessions.models import Session

    ended = 0
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if str(session.get_decoded().get("_auth_user_id")) == str(user.pk):
            session.delete()
            ended += 1
    return ended


def user_disable(*, actor, user, request=None) -> None:
    """Disable an account and end all its sessions at once."""
    with transaction.atomic():
        type(user).objects.filter(pk=user.pk).update(is_active=False)
        audit_record(action=AuditAction.ACCOUNT_DISABLED, actor=actor, obj=user, request=request)
    user_sessions_end(user=user)


def user_enable(*, actor, user, request=None) -> None:
    """Let a disabled account sign in again (after 90 days unused, or disabled by mistake)."""
    with transaction.atomic():
        type(user).objects.filter(pk=user.pk).update(is_active=True, last_login=timezone.now())
        audit_record(action=AuditAction.ACCOUNT_ENABLED, actor=actor, obj=user, request=request)


def users_inactive_disable(*, days: int, now=None) -> int:
    """Disable accounts nobody has signed in to for `days` days (never signed in: counted from joining)."""
    from django.db.models import Q

    now = now or timezone.now()
    cutoff = now - datetime.timedelta(days=days)
    stale = User.objects.filter(is_active=True).filter(
        Q(last_login__lt=cutoff) | Q(last_login__isnull=True, date_joined__lt=cutoff)
    )
    count = 0
    for user in stale:
        user_disable(actor=None, user=user)
        count += 1
    return count


def user_lockout_lift(*, user) -> int:
    """Lift every sign-in lockout on the account, from every source address (django-axes counts per
    account and address). Called when the person proves who they are: a completed password reset or
    a sign-in that passed MFA. Returns how many failure records were cleared."""
    from axes.utils import reset

    return reset(username=lockout_username(None, {"username": user.email}))
