"""Rows that agency schemas name (users, documentation standards) are never deleted: a trigger refuses it.

Agency schemas keep no database foreign keys into public tables (encounters 0003; docs/scaling.md), so the
database no longer stops such a delete by itself. Accounts are deactivated, standards superseded; nothing in
Muster deletes either, and this trigger keeps it that way for anything that tries (a raw DELETE, a shell).
One trigger per table, however many agencies there are; TRUNCATE (test databases) is not affected.
"""

from django.db import migrations

REFUSE_FUNCTION = """
CREATE OR REPLACE FUNCTION public.muster_refuse_delete() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    RAISE EXCEPTION 'muster: rows of % are never deleted: agency schemas may name them', TG_TABLE_NAME
        USING ERRCODE = '23503', HINT = 'Deactivate the account (or supersede the standard) instead.';
END $fn$;
"""


def refuse_delete(table: str) -> migrations.RunSQL:
    """The trigger on one public table that agency schemas name."""
    return migrations.RunSQL(
        f"CREATE TRIGGER muster_refuse_delete BEFORE DELETE ON public.{table} "
        "FOR EACH ROW EXECUTE FUNCTION public.muster_refuse_delete()",
        f"DROP TRIGGER IF EXISTS muster_refuse_delete ON public.{table}",
    )


class Migration(migrations.Migration):
    dependencies = [
        ("network", "0015_audit_chain_head_function"),
    ]

    operations = [
        migrations.RunSQL(REFUSE_FUNCTION, "DROP FUNCTION IF EXISTS public.muster_refuse_delete()"),
        refuse_delete("network_user"),
        refuse_delete("network_documentationstandard"),
    ]
