"""The one check the bottom layer makes about tenancy: is the connection in this agency's schema, as
that agency? The encrypted field (network/fields.py) asks it before encrypting an agency row, and
agencies/tenancy.py builds entering a schema and visiting every agency on it (docs/tenancy.md).

The agency is any tenant model instance (django-tenants' `get_tenant_model()`), so this module needs
nothing from the agencies app."""

from __future__ import annotations

from django.db import connection
from django_tenants.utils import get_tenant_model


class WrongSchemaError(RuntimeError):
    """The connection is not in the schema of the agency the code was given."""


def in_schema_of(agency) -> bool:
    return connection.schema_name == agency.schema_name


def require_agency_schema(agency) -> None:
    """Raise WrongSchemaError unless the connection is in `agency`'s schema, as that agency."""
    if not isinstance(agency, get_tenant_model()) or not agency.pk:
        raise WrongSchemaError(f"An agency's schema was required, but the code was given {agency!r}.")
    tenant = getattr(connection, "tenant", None)
    if not in_schema_of(agency) or getattr(tenant, "pk", None) != agency.pk:
        raise WrongSchemaError(
            f"Agency {agency.pk}'s rows were about to be touched while the connection is in schema "
            f"{connection.schema_name!r}: enter it with agencies.tenancy.agency_schema(agency)."
        )
