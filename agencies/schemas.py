"""Agency schemas: a migrated template schema, and new agencies cloned from it.

Cloning copies the template's tables and its `django_migrations` rows in one SQL call, so a
new agency does not replay every migration. A migrate of the new schema follows; when the
template is current it only confirms there is nothing to apply (see docs/onboarding.md).
"""

from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django_tenants.clone import CloneSchema
from django_tenants.utils import schema_exists


def template_schema_name() -> str:
    return settings.MUSTER_TEMPLATE_SCHEMA


def template_schema_migrate(*, verbosity: int = 0) -> None:
    """Create the template schema if needed and bring it to the latest tenant migrations."""
    name = template_schema_name()
    connection.set_schema_to_public()
    if not schema_exists(name):
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE SCHEMA "{name}"')
    call_command("migrate_schemas", tenant=True, schema_name=name, interactive=False, verbosity=verbosity)
    connection.set_schema_to_public()


def schema_migrate(schema_name: str, *, verbosity: int = 0) -> None:
    call_command("migrate_schemas", tenant=True, schema_name=schema_name, interactive=False, verbosity=verbosity)
    connection.set_schema_to_public()


def schema_clone_from_template(schema_name: str) -> None:
    """Create `schema_name` as a copy of the template (tables and migration records, no rows)."""
    if not schema_exists(template_schema_name()):
        template_schema_migrate()
    CloneSchema().clone_schema(template_schema_name(), schema_name, "DATA")
    connection.set_schema_to_public()


def schema_drop(schema_name: str) -> None:
    """Drop an agency schema. Only for tests, the benchmark and failed onboarding clean-up."""
    if schema_name in {"public", template_schema_name()}:
        raise ValueError(f"Refusing to drop {schema_name}.")
    with connection.cursor() as cursor:
        cursor.execute(f'DROP SCHEMA IF EXISTS "{schema_name}" CASCADE')
