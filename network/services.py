"""Writes to the network's structure: users, regions, network roles."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction

from network.audit import AuditAction, audit_record
from network.models import Network, NetworkRole, Region

User = get_user_model()


def network_get_or_create(*, name: str, slug: str) -> Network:
    network, _ = Network.objects.get_or_create(slug=slug, defaults={"name": name})
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


def network_current() -> Network | None:
    """The deployment's network (Muster runs one statewide network per deployment)."""
    return Network.objects.order_by("pk").first()
