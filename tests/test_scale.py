"""The largest state on one server (issue 15 §4, docs/scaling.md): what would otherwise grow with the number
of agency schemas stays put. Agency schemas put no triggers on public tables, the public rows they name are
never deleted, and loops over every agency give their database backend back every so often."""

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction

from agencies import schemas
from agencies.models import Role
from agencies.tenancy import for_each_active_agency
from network.models import User

# The public tables agency schemas name (encounters' author, co-supporters, follow-up owner, disclosure
# recorder, referral clinician; standard; activation and outreach target).
PUBLIC_TABLES_NAMED = [
    "network_user",
    "network_documentationstandard",
    "activations_activation",
    "activations_outreachtarget",
]


@pytest.mark.django_db
def test_agency_schemas_keep_no_foreign_keys_or_triggers_on_public_tables(world):
    """Each tenant foreign key into a public table adds two triggers on that table per agency schema: at
    3,000 agencies, 30,000 on network_user, walked by every onboarding, user update and delete."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT con.connamespace::regnamespace::text, con.conrelid::regclass::text, con.confrelid::regclass::text "
            "FROM pg_constraint con WHERE con.contype = 'f' AND con.connamespace <> 'public'::regnamespace "
            "AND con.confrelid::regclass::text = ANY(%s)",
            [[f"{table}" for table in PUBLIC_TABLES_NAMED]],
        )
        assert cursor.fetchall() == []
        cursor.execute(
            "SELECT tg.tgrelid::regclass::text, count(*) FROM pg_trigger tg "
            "JOIN pg_class c ON c.oid = tg.tgconstrrelid "
            "WHERE tg.tgrelid::regclass::text = ANY(%s) AND c.relnamespace <> 'public'::regnamespace GROUP BY 1",
            [PUBLIC_TABLES_NAMED],
        )
        assert cursor.fetchall() == []
        # The agency schemas still keep their own foreign keys (a follow-up's encounter, a co-supporter's).
        cursor.execute(
            "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND connamespace = %s::regnamespace",
            [world.agency_a.schema_name],
        )
        assert cursor.fetchone()[0] >= 3


@pytest.mark.django_db
@pytest.mark.parametrize("table", PUBLIC_TABLES_NAMED)
def test_public_rows_agency_schemas_name_are_never_deleted(world, table):
    """Without database foreign keys, nothing in PostgreSQL would stop deleting a user an encounter names:
    one trigger per public table refuses any delete (accounts are deactivated, never deleted)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT min(id) FROM public.{table}")  # noqa: S608 - a constant table name
        row_id = cursor.fetchone()[0]
        assert row_id is not None
        with pytest.raises(IntegrityError, match="never deleted"), transaction.atomic():
            cursor.execute(f"DELETE FROM public.{table} WHERE id = %s", [row_id])  # noqa: S608
    assert User.objects.filter(pk=world.a[Role.PEER_SUPPORTER].pk).exists()


def test_agency_loops_recycle_their_connection_every_n_agencies(world, settings, django_db_blocker):
    """A backend keeps the catalog entries of every schema it touched (363 MiB after 2,000 agencies):
    for_each_active_agency closes the connection every MUSTER_AGENCY_CONNECTION_RECYCLE agencies."""

    def backend(agency):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            return cursor.fetchone()[0]

    agencies = [world.agency_a, world.agency_b]
    with django_db_blocker.unblock():
        settings.MUSTER_AGENCY_CONNECTION_RECYCLE = 2
        pids = [for_each_active_agency(backend, what="pid", agencies=[agency])[agency.pk] for agency in agencies]
        assert pids[0] == pids[1]  # one agency per loop: never recycled
        seen = []
        for_each_active_agency(lambda agency: seen.append(backend(agency)), what="pid", agencies=agencies * 3)
        assert seen[0] == seen[1] != seen[2] == seen[3] != seen[4] == seen[5]
        settings.MUSTER_AGENCY_CONNECTION_RECYCLE = 0
        seen.clear()
        for_each_active_agency(lambda agency: seen.append(backend(agency)), what="pid", agencies=agencies * 3)
        assert len(set(seen)) == 1
        # Inside a transaction the connection is never closed (it would lose the transaction).
        settings.MUSTER_AGENCY_CONNECTION_RECYCLE = 1
        seen.clear()
        with transaction.atomic():
            for_each_active_agency(lambda agency: seen.append(backend(agency)), what="pid", agencies=agencies * 2)
        assert len(set(seen)) == 1


# --- One new tenant migration over every agency, as SQL in batches ---------------------------------------------

PREVIOUS = ("encounters", "0002_encounter_activation_encounter_outreach_target")
OLDER = ("encounters", "0001_initial")


def _schema_description(name: str) -> dict:
    """What a schema holds, comparable between two schemas: columns, constraints, indexes, migration records."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, column_name, data_type, is_nullable, column_default, identity_generation "
            "FROM information_schema.columns WHERE table_schema = %s ORDER BY 1, 2",
            [name],
        )
        columns = cursor.fetchall()
        cursor.execute(
            "SELECT c.relname, con.conname, con.contype, replace(pg_get_constraintdef(con.oid), %s, '') "
            "FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid "
            "WHERE con.connamespace = %s::regnamespace ORDER BY 1, 2",
            [f"{name}.", name],
        )
        constraints = cursor.fetchall()
        cursor.execute(
            "SELECT indexname, replace(indexdef, %s, '') FROM pg_indexes WHERE schemaname = %s ORDER BY 1",
            [f"{name}.", name],
        )
        indexes = cursor.fetchall()
        cursor.execute(f'SELECT app, name FROM "{name}".django_migrations ORDER BY 1, 2')  # noqa: S608
        records = cursor.fetchall()
    return {"columns": columns, "constraints": constraints, "indexes": indexes, "records": records}


def _migrate_to(schema: str, node: tuple[str, str]) -> None:
    call_command("migrate_schemas", *node, tenant=True, schema_name=schema, interactive=False, verbosity=0)
    connection.set_schema_to_public()


def test_a_new_tenant_migration_applied_as_sql_in_batches_leaves_what_the_executor_leaves(world, django_db_blocker):
    """migrate_network computes the template's SQL once and applies it to each agency schema at the template's
    state, in batched transactions with the same django_migrations rows; the schema migrated by Django's
    executor is the reference. A schema at another state is left to the executor, untouched."""
    names = ["scale_batched_1", "scale_batched_2", "scale_reference", "scale_older"]
    template = schemas.template_schema_name()
    with django_db_blocker.unblock():
        try:
            for name in names:
                schemas.schema_clone_from_template(name)
            for name in [template, *names]:
                _migrate_to(name, PREVIOUS)
            _migrate_to("scale_older", OLDER)
            older = _schema_description("scale_older")

            batch = schemas.migration_batch_prepare()
            assert batch is not None and ("encounters", "0003_public_rows_without_database_foreign_keys") in (
                batch.records
            )
            schemas.template_schema_migrate()
            left = schemas.schemas_migrate_batched(["scale_batched_1", "scale_older", "scale_batched_2"], batch)
            assert left == ["scale_older"]
            assert _schema_description("scale_older") == older  # another state: not touched
            schemas.schemas_migrate(["scale_reference"])

            reference = _schema_description("scale_reference")
            assert reference == _schema_description(template) | {"records": reference["records"]}
            for name in ("scale_batched_1", "scale_batched_2"):
                assert _schema_description(name) == reference
            assert schemas.schemas_behind(names) == ["scale_older"]
            assert schemas.migration_batch_prepare() is None  # the template is current: nothing to prepare
        finally:
            for name in names:
                schemas.schema_drop(name)
            schemas.template_schema_migrate()
