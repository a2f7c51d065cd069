"""Remove a user's authenticator app and recovery codes (a lost phone): an audited administrative action.

The user's sessions end, and at their next sign-in they set up two-step sign-in again.
"""

from django.core.management.base import BaseCommand, CommandError

from network.mfa import mfa_reset
from network.models import User


class Command(BaseCommand):
    help = "Reset two-step sign-in (MFA) for an account whose phone is lost; they enroll again at next sign-in."

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--by", metavar="EMAIL", help="the administrator doing the reset, for the audit log")

    def handle(self, *args, **options):
        user = User.objects.filter(email__iexact=options["email"].strip()).first()
        if user is None:
            raise CommandError("No account has that e-mail address.")
        actor = None
        if options["by"]:
            actor = User.objects.filter(email__iexact=options["by"].strip(), is_active=True).first()
            if actor is None:
                raise CommandError("--by names no active account.")
        removed = mfa_reset(actor=actor, user=user)
        self.stdout.write(
            self.style.SUCCESS(f"Two-step sign-in reset ({removed} device(s) removed); the account's sessions ended.")
        )
