"""Put every existing active member in their agency role group (object grants go to these groups)."""

from django.db import migrations


def sync_role_groups(apps, schema_editor):
    Membership = apps.get_model("agencies", "Membership")
    Group = apps.get_model("auth", "Group")
    for membership in Membership.objects.filter(is_active=True).select_related("user"):
        group, _ = Group.objects.get_or_create(name=f"agency-{membership.agency_id}-{membership.role}")
        membership.user.groups.add(group)


class Migration(migrations.Migration):
    dependencies = [
        ("agencies", "0004_datakey_activation"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("network", "0003_networkpolicy_activation_retention_days"),
    ]

    operations = [migrations.RunPython(sync_role_groups, migrations.RunPython.noop)]
