"""Directory entries, which agency schemas name (encounters.Referral.resource), are never deleted (they are
retired: `active`): the same trigger as network 0016 refuses it (docs/scaling.md)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("governance", "0004_resource_directory"),
        ("network", "0016_public_rows_agencies_name_are_never_deleted"),
    ]

    operations = [
        migrations.RunSQL(
            "CREATE TRIGGER muster_refuse_delete BEFORE DELETE ON public.governance_resourceentry "
            "FOR EACH ROW EXECUTE FUNCTION public.muster_refuse_delete()",
            "DROP TRIGGER IF EXISTS muster_refuse_delete ON public.governance_resourceentry",
        )
    ]
