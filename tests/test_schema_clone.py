"""Agency schemas cloned from the template: the copy is exact, and the migration check is right."""

import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader

from agencies import schemas

pytestmark = pytest.mark.django_db

# Everything a later migration or a query could depend on: columns (type, nullability, default,
# identity), constraints and indexes by name and definition, sequences and where they stand.
STRUCTURE_SQL = """
SELECT 'column ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
    || ' not null=' || a.attnotnull::text || ' identity=' || a.attidentity::text
    || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '') || ' position=' || a.attnum
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE c.relnamespace = %(schema)s::regnamespace AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT 'constraint ' || c.relname || ' ' || con.conname || ' '
    || replace(pg_get_constraintdef(con.oid), %(schema)s || '.', '')
FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid WHERE c.relnamespace = %(schema)s::regnamespace
UNION ALL
SELECT 'index ' || replace(pg_get_indexdef(i.indexrelid), %(schema)s || '.', '')
FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid WHERE c.relnamespace = %(schema)s::regnamespace
UNION ALL
SELECT 'sequence ' || s.relname || ' at ' || coalesce(pg_sequence_last_value(s.oid)::text, 'unused')
FROM pg_class s WHERE s.relnamespace = %(schema)s::regnamespace AND s.relkind = 'S'
"""


def _structure(schema_name: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(STRUCTURE_SQL, {"schema": schema_name})
        return sorted(row[0] for row in cursor.fetchall())


def _migration_records(schema_name: str) -> set[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT app, name FROM "{schema_name}".django_migrations')
        return set(cursor.fetchall())


def test_clone_has_the_templates_tables_constraints_and_indexes_under_the_same_names():
    schemas.schema_clone_from_template("agency_clone_exact")

    template = _structure(schemas.template_schema_name())
    assert any(line.startswith("constraint encounters_followup ") for line in template)
    assert _structure("agency_clone_exact") == template


def test_clone_copies_the_migration_records_and_new_records_continue_after_them():
    schemas.schema_clone_from_template("agency_clone_records")

    assert _migration_records("agency_clone_records") == _migration_records(schemas.template_schema_name())
    with connection.cursor() as cursor:
        cursor.execute('SELECT max(id) FROM "agency_clone_records".django_migrations')
        (highest,) = cursor.fetchone()
        cursor.execute(
            'INSERT INTO "agency_clone_records".django_migrations (app, name, applied) '
            "VALUES ('later', '0001_initial', now()) RETURNING id"
        )
        assert cursor.fetchone()[0] > highest


def test_template_holding_a_function_is_cloned_by_django_tenants_function_with_it(settings):
    schemas.schema_clone_from_template("agency_clone_base")
    with connection.cursor() as cursor:
        cursor.execute('CREATE FUNCTION "agency_clone_base".answer() RETURNS integer LANGUAGE sql AS $$ SELECT 42 $$')
    settings.MUSTER_TEMPLATE_SCHEMA = "agency_clone_base"

    schemas.schema_clone_from_template("agency_clone_with_function")

    with connection.cursor() as cursor:
        cursor.execute('SELECT "agency_clone_with_function".answer()')
        assert cursor.fetchone()[0] == 42
    assert _migration_records("agency_clone_with_function") == _migration_records("agency_clone_base")


def test_fresh_clone_is_current_and_is_not_migrated_again():
    schemas.schema_clone_from_template("agency_clone_current")

    assert schemas.schemas_behind(["agency_clone_current"]) == []
    assert schemas.schema_migrate("agency_clone_current") is False


def test_schema_missing_a_migration_record_is_behind_and_migrated():
    schemas.schema_clone_from_template("agency_clone_behind")
    # A public app's last migration that no other migration depends on (forgetting one that others depend on
    # would make the history inconsistent rather than behind).
    graph = MigrationLoader(None, ignore_no_migrations=True).graph
    public_apps = ("network", "activations", "governance", "agencies")
    app, name = max(node for node, n in graph.node_map.items() if node[0] in public_apps and not n.children)
    with connection.cursor() as cursor:
        cursor.execute('DELETE FROM "agency_clone_behind".django_migrations WHERE app = %s AND name = %s', [app, name])
        cursor.execute('CREATE SCHEMA "agency_clone_empty"')

    assert schemas.schemas_behind(["agency_clone_behind", "agency_clone_empty"]) == [
        "agency_clone_behind",
        "agency_clone_empty",
    ]
    # A public app's migration: the tenant schema only records it, so migrating it here is safe.
    assert schemas.schema_migrate("agency_clone_behind") is True
    assert (app, name) in _migration_records("agency_clone_behind")
