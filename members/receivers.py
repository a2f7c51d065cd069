"""What members' requests do when a lower layer announces a change (connected in MembersConfig.ready)."""

from django.dispatch import receiver

from agencies.signals import agency_destroying
from members.services import requests_contacts_destroy_for_agency


@receiver(agency_destroying, dispatch_uid="members.contacts_destroy_for_destroyed_agency")
def contacts_destroy_on_agency_destruction(sender, *, agency, **kwargs) -> None:
    """An agency leaving the network takes its members' contacts with it: each request's own key is shredded."""
    requests_contacts_destroy_for_agency(agency=agency)
