"""What activations do when a lower layer announces a change (connected in ActivationsConfig.ready)."""

from django.dispatch import receiver

from activations.services import assignments_return_for_suspended_agency
from agencies.signals import agency_suspended


@receiver(agency_suspended, dispatch_uid="activations.assignments_return_for_suspended_agency")
def assignments_return_on_suspension(sender, *, actor, agency, request=None, **kwargs) -> None:
    """A suspended agency's open assignments return to the boards unassigned, in the suspension's
    transaction (agencies.offboarding.agency_suspend)."""
    assignments_return_for_suspended_agency(actor=actor, agency=agency, request=request)
