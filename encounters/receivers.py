"""What encounters do when a lower layer announces a change (connected in EncountersConfig.ready)."""

from django.dispatch import receiver
from django_tenants.utils import schema_exists

from agencies.signals import agency_destroying
from encounters.services import checkin_contacts_destroy_all


@receiver(agency_destroying, dispatch_uid="encounters.checkin_contacts_destroy_for_destroyed_agency")
def checkin_contacts_destroy_on_agency_destruction(sender, *, agency, **kwargs) -> None:
    """The check-in plans' own keys live in the public key table, outside the schema that is dropped: shred them,
    so no backup of the schema can be read for a member's contact. A schema already lost (a disaster before the
    clean-up) has no plans left to read."""
    if schema_exists(agency.schema_name):
        checkin_contacts_destroy_all(agency=agency)
