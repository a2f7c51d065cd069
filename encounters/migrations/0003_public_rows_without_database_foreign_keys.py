"""Tenant columns that name a public row (user, standard, activation, outreach target) lose their database
foreign keys: each put two triggers per agency schema on the public table (docs/scaling.md)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# Runs in each agency schema (its search path finds the schema's own table first).
DROP_CO_SUPPORTER_USER_FK = """
DO $$
DECLARE name text;
BEGIN
    FOR name IN SELECT conname FROM pg_constraint WHERE contype = 'f'
            AND conrelid = 'encounters_encounter_co_supporters'::regclass
            AND confrelid = 'public.network_user'::regclass LOOP
        EXECUTE format('ALTER TABLE encounters_encounter_co_supporters DROP CONSTRAINT %I', name);
    END LOOP;
END $$;
"""
ADD_CO_SUPPORTER_USER_FK = (
    "ALTER TABLE encounters_encounter_co_supporters ADD CONSTRAINT encounters_encounter_user_id_181a36f1_fk_network_u "
    "FOREIGN KEY (user_id) REFERENCES public.network_user (id) DEFERRABLE INITIALLY DEFERRED"
)


class Migration(migrations.Migration):
    dependencies = [
        ("activations", "0008_target_follow_up_reminders"),
        ("encounters", "0002_encounter_activation_encounter_outreach_target"),
        ("network", "0014_networks_have_policy_and_standard"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="disclosurerecord",
            name="recorded_by",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="encounter",
            name="activation",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="activations.activation",
            ),
        ),
        migrations.AlterField(
            model_name="encounter",
            name="author",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="encounter",
            name="outreach_target",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="activations.outreachtarget",
            ),
        ),
        migrations.AlterField(
            model_name="encounter",
            name="referred_to",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                help_text="The team clinician a clinician referral is addressed to.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="encounter",
            name="standard",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="network.documentationstandard",
            ),
        ),
        migrations.AlterField(
            model_name="followup",
            name="owner",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        # The co-supporter table exists (Django made it for the many-to-many field): named as a model in the
        # state only, and in the database only its foreign key to network_user goes.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="EncounterCoSupporter",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "encounter",
                            models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, to="encounters.encounter"),
                        ),
                        (
                            "user",
                            models.ForeignKey(
                                db_constraint=False,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "encounters_encounter_co_supporters",
                        "unique_together": {("encounter", "user")},
                    },
                ),
                migrations.AlterField(
                    model_name="encounter",
                    name="co_supporters",
                    field=models.ManyToManyField(
                        blank=True,
                        related_name="+",
                        through="encounters.EncounterCoSupporter",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            database_operations=[migrations.RunSQL(DROP_CO_SUPPORTER_USER_FK, ADD_CO_SUPPORTER_USER_FK)],
        ),
    ]
