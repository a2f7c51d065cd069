"""The two SECURITY DEFINER functions through which the runtime role clones and drops agency schemas
(agencies/db_roles.py); they belong to the role that runs this migration, the owner."""

from django.db import migrations

from agencies.db_roles import FUNCTIONS, FUNCTIONS_UNINSTALL


class Migration(migrations.Migration):
    dependencies = [
        ("agencies", "0011_datakey_blind_index_purpose"),
    ]

    operations = [migrations.RunSQL(FUNCTIONS, FUNCTIONS_UNINSTALL)]
