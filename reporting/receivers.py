"""What reporting does when a lower layer announces a change (connected in ReportingConfig.ready)."""

from django.dispatch import receiver

from encounters.signals import encounters_changed
from reporting.services import agency_snapshot_mark_stale


@receiver(encounters_changed, dispatch_uid="reporting.agency_snapshot_mark_stale")
def snapshot_mark_stale_on_change(sender, *, agency, **kwargs) -> None:
    """The agency's snapshots catch up in the background; queued through the outbox in the change's
    transaction, so saving works with Redis down and the refresh is sent when it is back."""
    agency_snapshot_mark_stale(agency=agency)
