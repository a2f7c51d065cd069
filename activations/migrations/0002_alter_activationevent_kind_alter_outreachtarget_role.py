import network.fields
from django.db import migrations, models


def encrypt_plain_roles(apps, schema_editor):
    """Roles were plain text before this migration: encrypt them under their activation's key."""
    from activations.models import OutreachTarget  # the current model: its field encrypts on save
    from network.crypto import DecryptionError

    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, role FROM activations_outreachtarget WHERE role IS NOT NULL AND role NOT LIKE 'm1.%%'"
        )
        rows = cursor.fetchall()
    for pk, role in rows:
        target = OutreachTarget.objects.select_related("activation").get(pk=pk)
        target.role = role
        try:
            target.save(update_fields=["role"])
        except DecryptionError:  # the activation's names were already destroyed: drop the role too
            OutreachTarget.objects.filter(pk=pk).update(role=None)


class Migration(migrations.Migration):
    dependencies = [
        ("activations", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="activationevent",
            name="kind",
            field=models.CharField(
                choices=[
                    ("opened", "Activation opened"),
                    ("agency_joined", "Agency joined"),
                    ("callout_sent", "Team called out"),
                    ("callout_answered", "Callout answered"),
                    ("member_added", "Affected member added"),
                    ("duplicate_flagged", "Possible duplicate flagged"),
                    ("merged", "Duplicate merged"),
                    ("duplicate_dismissed", "Not a duplicate"),
                    ("assigned", "Assigned"),
                    ("reassigned", "Reassigned"),
                    ("unassigned", "Unassigned (supporter was a witness or party)"),
                    ("status_changed", "Outreach status changed"),
                    ("demobilized", "Demobilized"),
                    ("closed", "Closed"),
                    ("names_destroyed", "Names destroyed"),
                ],
                max_length=32,
            ),
        ),
        migrations.AlterField(
            model_name="outreachtarget",
            name="role",
            field=network.fields.EncryptedTextField(
                blank=True, help_text="Role or assignment, e.g. engineer, dispatcher.", null=True
            ),
        ),
        migrations.RunPython(encrypt_plain_roles, migrations.RunPython.noop),
    ]
