"""Re-install the schema functions (agencies/db_roles.py): the clone now finds the template's tables through
pg_depend's index instead of scanning pg_class, whose size grows with every agency (docs/scaling.md)."""

from django.db import migrations

from agencies.db_roles import FUNCTIONS


class Migration(migrations.Migration):
    dependencies = [
        ("agencies", "0012_runtime_schema_functions"),
    ]

    # Backwards leaves the current functions: same names and arguments, same effect.
    operations = [migrations.RunSQL(FUNCTIONS, migrations.RunSQL.noop)]
