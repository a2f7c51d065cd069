"""Lift a sign-in lockout before it expires (an audited administrative action)."""

from axes.utils import reset
from django.core.management.base import BaseCommand

from network.audit import AuditAction, audit_record
from network.models import User


class Command(BaseCommand):
    help = "Unlock an account locked after repeated failed sign-ins."

    def add_arguments(self, parser):
        parser.add_argument("email")

    def handle(self, *args, **options):
        email = options["email"].strip().lower()
        cleared = reset(username=email)
        user = User.objects.filter(email__iexact=email).first()
        audit_record(action=AuditAction.ACCOUNT_UNLOCKED, object_type="network.user", object_id=user.pk if user else "")
        self.stdout.write(self.style.SUCCESS(f"Unlocked ({cleared} failed attempt record(s) cleared)."))
