"""Activations and outreach targets, which agency schemas name (an encounter's activation and target), are
never deleted: the same trigger as network 0016 refuses it (docs/scaling.md)."""

from django.db import migrations


def refuse_delete(table: str) -> migrations.RunSQL:
    return migrations.RunSQL(
        f"CREATE TRIGGER muster_refuse_delete BEFORE DELETE ON public.{table} "
        "FOR EACH ROW EXECUTE FUNCTION public.muster_refuse_delete()",
        f"DROP TRIGGER IF EXISTS muster_refuse_delete ON public.{table}",
    )


class Migration(migrations.Migration):
    dependencies = [
        ("activations", "0008_target_follow_up_reminders"),
        ("network", "0016_public_rows_agencies_name_are_never_deleted"),
    ]

    operations = [refuse_delete("activations_activation"), refuse_delete("activations_outreachtarget")]
