"""Check the audit log's keyed chain (and any anchors kept outside the database); report the first break."""

from django.core.management.base import BaseCommand, CommandError

from network.audit import ChainBroken, anchor_parse, chain_verify


class Command(BaseCommand):
    help = (
        "Verify the audit log's chain (HMAC under MUSTER_AUDIT_KEY) and, with --anchor, that each anchored "
        "chain head printed earlier by audit_anchor is still there unchanged. Exit 1 at the first break."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--anchor",
            action="append",
            default=[],
            metavar="LINE",
            help="an anchor line printed by `manage.py audit_anchor` (repeatable)",
        )

    def handle(self, *args, **options):
        try:
            anchors = [anchor_parse(line) for line in options["anchor"]]
            checked = chain_verify(anchors=anchors)
        except ChainBroken as broken:
            raise CommandError(str(broken)) from None
        held = f"; {len(anchors)} anchor(s) still in the chain" if anchors else ""
        self.stdout.write(self.style.SUCCESS(f"Audit chain intact: {checked} events verified{held}."))
