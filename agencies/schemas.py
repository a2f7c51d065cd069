"""Agency schemas: a migrated template schema, and new agencies cloned from it.

Cloning copies the template's tables and its `django_migrations` rows in one SQL call, so a
new agency does not replay every migration. The new schema's migration records are then
compared with the migration files; `migrate_schemas` runs only when something is missing
(see docs/onboarding.md and docs/performance.md).
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.db.migrations.loader import MigrationLoader
from django_tenants.clone import CLONE_SCHEMA_FUNCTION
from django_tenants.utils import schema_exists

logger = logging.getLogger(__name__)

# Schemas checked per statement when looking for schemas that miss a migration.
BEHIND_BATCH = 200
# Serializes installing the clone function: its script drops and re-creates types.
_CLONE_FUNCTION_LOCK = 0x6D75_7374_6572  # "muster"


def template_schema_name() -> str:
    return settings.MUSTER_TEMPLATE_SCHEMA


def template_schema_migrate(*, verbosity: int = 0) -> None:
    """Create the template schema if needed and bring it to the latest tenant migrations."""
    name = template_schema_name()
    connection.set_schema_to_public()
    if not schema_exists(name):
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE SCHEMA "{name}"')
    call_command("migrate_schemas", tenant=True, schema_name=name, interactive=False, verbosity=verbosity)
    connection.set_schema_to_public()


def schema_migrate(schema_name: str, *, verbosity: int = 0) -> bool:
    """Bring one agency schema up to date. Returns whether `migrate_schemas` had to run.

    A schema that already records every migration on disk (a fresh clone of a current template)
    is left alone: running the migrate command would only build the whole project state to
    find nothing to do, and that cost grows with every migration the project adds.
    """
    if not schemas_behind([schema_name]):
        return False
    call_command("migrate_schemas", tenant=True, schema_name=schema_name, interactive=False, verbosity=verbosity)
    connection.set_schema_to_public()
    return True


def schemas_migrate(schema_names: list[str], *, executor: str = "standard", verbosity: int = 0) -> None:
    """Run django-tenants' `migrate_schemas` on the given schemas, one after another ("standard") or
    in a pool of forked processes ("multiprocessing", TENANT_MULTIPROCESSING_MAX_PROCESSES, default 2)."""
    from django_tenants.management.commands.migrate_schemas import Command as MigrateSchemas
    from django_tenants.migration_executors import get_executor

    parser = MigrateSchemas().create_parser("manage.py", "migrate_schemas")
    options = vars(parser.parse_args(["--tenant", "--noinput", f"--verbosity={verbosity}", f"--executor={executor}"]))
    options["skip_checks"] = True  # as call_command does: system checks once per run, not once per schema
    get_executor(executor)((), options).run_migrations(tenants=list(schema_names))
    connection.set_schema_to_public()


# Schemas migrated per transaction by the batched path (each inside its own savepoint).
MIGRATE_BATCH = 100


@dataclass(frozen=True)
class MigrationBatch:
    """What the template recorded before `migrate_network` moved it, and the SQL that moved it: applied as it
    stands to every agency schema that recorded exactly the same migrations (docs/scaling.md)."""

    before: tuple[str, ...]  # "app.name" the template recorded, sorted
    sql: str  # the plan's statements, schema-independent (unqualified names, found through the search path)
    records: tuple[tuple[str, str], ...]  # the django_migrations rows the executor would add, in order


def migration_batch_prepare() -> MigrationBatch | None:
    """Before the template is migrated: the SQL of what it is about to apply, computed once (as `sqlmigrate`
    does, against the template) for every agency schema at the same state. None when there is nothing to
    apply or when the plan cannot be replayed as SQL: a RunPython (or other operation that is not SQL) that
    runs in agency schemas, a non-atomic migration, a backwards step, or SQL naming the template itself.
    Those go through Django's executor, schema by schema, as before."""
    from django.db import router
    from django.db.migrations.executor import MigrationExecutor
    from django.db.migrations.operations.special import SeparateDatabaseAndState

    template = template_schema_name()
    if not schema_exists(template):
        return None
    connection.set_schema(template)
    try:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if not plan:
            return None
        before = tuple(sorted(f"{app}.{name}" for app, name in executor.loader.applied_migrations))

        def runs_here(migration, operation) -> bool:
            if isinstance(operation, SeparateDatabaseAndState):
                return any(runs_here(migration, inner) for inner in operation.database_operations)
            hints = getattr(operation, "hints", {})
            return not operation.reduces_to_sql and router.allow_migrate(connection.alias, migration.app_label, **hints)

        for migration, backwards in plan:
            if backwards or not migration.atomic or any(runs_here(migration, op) for op in migration.operations):
                return None
        state = executor.loader.project_state(list(executor.loader.applied_migrations))
        statements, records = [], []
        for migration, _backwards in plan:
            with connection.schema_editor(collect_sql=True, atomic=False) as editor:
                state = migration.apply(state, editor, collect_sql=True)
            statements += editor.collected_sql
            records += list(migration.replaces) if migration.replaces else [(migration.app_label, migration.name)]
        sql = "\n".join(statements)
        if template in sql:
            return None
        return MigrationBatch(before=before, sql=sql, records=tuple(records))
    finally:
        connection.set_schema_to_public()


def schemas_migrate_batched(schema_names: list[str], batch: MigrationBatch) -> list[str]:
    """Apply `batch` to the given schemas (those `schemas_behind` found) and record its migrations, MIGRATE_BATCH
    schemas per transaction, each schema in its own savepoint: a schema is migrated and recorded whole or
    not at all. Only schemas that record exactly what the template recorded before are touched. Returns the
    schemas left for Django's executor: at another state, or failed (logged by name and error class)."""
    quote = connection.ops.quote_name
    apps, names = [app for app, _ in batch.records], [name for _, name in batch.records]
    left = []
    connection.set_schema_to_public()
    for start in range(0, len(schema_names), MIGRATE_BATCH):
        chunk = schema_names[start : start + MIGRATE_BATCH]
        with transaction.atomic(), connection.cursor() as cursor:
            parts = [
                f"SELECT %s, (SELECT coalesce(array_agg(app || '.' || name ORDER BY app || '.' || name), '{{}}') "  # nosec B608
                f"FROM {quote(name)}.django_migrations) = %s::text[]"
                for name in chunk
            ]
            params = [value for name in chunk for value in (name, list(batch.before))]
            cursor.execute(" UNION ALL ".join(parts), params)
            same = {name for name, equal in cursor.fetchall() if equal}
            for name in chunk:
                if name not in same:
                    left.append(name)
                    continue
                try:
                    with transaction.atomic():
                        cursor.execute(f"SET LOCAL search_path = {quote(name)}, public")
                        if batch.sql:
                            cursor.execute(batch.sql)
                        cursor.execute(
                            "INSERT INTO django_migrations (app, name, applied) "
                            "SELECT app, name, now() FROM unnest(%s::text[], %s::text[]) AS m(app, name)",
                            [apps, names],
                        )
                except DatabaseError as exc:
                    logger.warning(
                        "batched migration failed in schema %s (%s); left to the executor", name, type(exc).__name__
                    )
                    left.append(name)
            cursor.execute("SET LOCAL search_path = public")
    connection.set_schema_to_public()
    return left


@functools.cache
def migration_nodes() -> frozenset[tuple[str, str]]:
    """Every migration the project's files define, as (app, name): what a current schema records.

    Read from disk once per process: migration files do not change under a running process.
    django-tenants records every app's migrations in every schema (it runs the whole plan and the
    router skips the operations of apps that do not live there), so the set covers all apps.
    """
    return frozenset(MigrationLoader(None, ignore_no_migrations=True).graph.nodes)


def schemas_behind(schema_names: Iterable[str]) -> list[str]:
    """The schemas, of those given, that miss a migration (or have no migration table at all).

    One query finds which schemas have a `django_migrations` table, then one UNION ALL statement
    per BEHIND_BATCH schemas counts, in each, the migrations on disk it does not record.
    Anything missing means the schema goes through the real `migrate_schemas`, which decides
    what to apply; this check only decides that there is nothing to do.
    """
    names = list(dict.fromkeys(schema_names))
    if not names:
        return []
    expected = sorted(f"{app}.{name}" for app, name in migration_nodes())
    with connection.cursor() as cursor:
        # One catalog lookup per name (to_regclass), not a join over every schema's django_migrations.
        cursor.execute(
            "SELECT name FROM unnest(%s::text[]) AS name "
            "WHERE to_regclass(quote_ident(name) || '.django_migrations') IS NOT NULL",
            [names],
        )
        with_table = {row[0] for row in cursor.fetchall()}
        behind = [name for name in names if name not in with_table]
        checked = [name for name in names if name in with_table]
        for start in range(0, len(checked), BEHIND_BATCH):
            batch = checked[start : start + BEHIND_BATCH]
            parts = [
                f"SELECT %s, count(*) FROM expected WHERE node NOT IN "  # nosec B608 - quoted schema names
                f"(SELECT app || '.' || name FROM {connection.ops.quote_name(name)}.django_migrations)"
                for name in batch
            ]
            cursor.execute(
                "WITH expected AS (SELECT unnest(%s::text[]) AS node) " + " UNION ALL ".join(parts),
                [expected, *batch],
            )
            behind += [name for name, missing in cursor.fetchall() if missing]
    return [name for name in names if name in set(behind)]


def schema_clone_from_template(schema_name: str) -> None:
    """Create `schema_name` as a copy of the template (tables, constraints, indexes, rows).

    The copy runs in `public.muster_schema_clone`, a SECURITY DEFINER function owned by the owner role
    (agencies/db_roles.py): the runtime role the worker connects as cannot create schemas itself. The
    template holds plain tables only, so the function copies them with a handful of catalog queries and
    one batch of DDL, in a few milliseconds per table. django-tenants' `clone_schema` PL/pgSQL function
    rebuilds every table's DDL column by column, which took most of an onboarding and grew with every
    column a migration adds; it remains the fallback for a template holding anything else (functions,
    triggers, views, types, serial columns...).
    """
    connection.set_schema_to_public()
    if not schema_exists(template_schema_name()):
        template_schema_migrate()
    # A name differing only in case from an existing schema would leave two agencies on one schema.
    if schema_exists(schema_name, case_sensitive=False):
        raise ValueError(f"Schema {schema_name} already exists.")
    with transaction.atomic(), connection.cursor() as cursor:
        whole = not _template_has_only_tables(cursor, template_schema_name())
        if whole:
            clone_function_install()
        cursor.execute("SELECT public.muster_schema_clone(%s, %s, %s)", [template_schema_name(), schema_name, whole])
    connection.set_schema_to_public()


# Anything in the template besides ordinary tables, their identity sequences, indexes and
# constraints (CHECK, NOT NULL, primary, unique, foreign, exclusion keys) sends the clone to
# django-tenants' function, which knows about the rest. Table privileges are not a reason: the
# runtime role's grants on the template reappear on the copy through the owner's default privileges.
# What the schema holds is found through pg_depend's index (every function, type, relation, statistics
# object... depends on its schema; a table's row type, indexes and triggers depend on the table), never by
# scanning pg_class or pg_type for the schema: those hold every agency's objects and grow with each.
_OTHER_OBJECTS_SQL = """
WITH members AS (
    SELECT d.classid, d.objid FROM pg_depend d
    WHERE d.refclassid = 'pg_namespace'::regclass AND d.refobjid = to_regnamespace(%s) AND d.objsubid = 0
), rels AS (
    SELECT c.* FROM pg_class c JOIN members m ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
)
SELECT
    (SELECT count(*) FROM members m WHERE m.classid <> 'pg_class'::regclass)
  + (SELECT count(*) FROM rels c WHERE c.relkind NOT IN ('r', 'S') OR c.relpersistence <> 'p'
        OR c.relrowsecurity OR c.relhasrules)
  + (SELECT count(*) FROM rels c WHERE c.relkind = 'S'
        AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                        AND d.deptype = 'i'))
  + (SELECT count(*) FROM pg_trigger tg JOIN rels c ON c.oid = tg.tgrelid WHERE NOT tg.tgisinternal)
  + (SELECT count(*) FROM pg_policy po JOIN rels c ON c.oid = po.polrelid)
  + (SELECT count(*) FROM pg_attribute a JOIN rels c ON c.oid = a.attrelid
        WHERE c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
        AND (a.attgenerated <> '' OR a.attacl IS NOT NULL))
  + (SELECT count(*) FROM pg_attrdef ad JOIN rels c ON c.oid = ad.adrelid
        WHERE pg_get_expr(ad.adbin, ad.adrelid) LIKE '%%nextval(%%')
"""


def _template_has_only_tables(cursor, template: str) -> bool:
    cursor.execute(_OTHER_OBJECTS_SQL, [template])
    return cursor.fetchone()[0] == 0


def clone_function_install() -> None:
    """Install django-tenants' `clone_schema` PL/pgSQL function, once per database (the fallback clone).

    django-tenants re-creates it (dropping and re-creating its types with CASCADE) on every call;
    installing it once also keeps two concurrent onboardings from dropping each other's function.
    A hash of django-tenants' script in the function's comment says which version is installed.
    """
    version = _clone_function_version()
    if _clone_function_installed_version() == version:
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CLONE_FUNCTION_LOCK])
        if _clone_function_installed_version() == version:
            return  # another process installed it while we waited
        db_user = settings.DATABASES["default"].get("USER") or "postgres"
        cursor.execute(CLONE_SCHEMA_FUNCTION.format(db_user=db_user))
        cursor.execute(f"COMMENT ON FUNCTION public.clone_schema(text, text, public.cloneparms[]) IS '{version}'")


@functools.cache
def _clone_function_version() -> str:
    return "muster:" + hashlib.sha256(CLONE_SCHEMA_FUNCTION.encode()).hexdigest()[:16]


def _clone_function_installed_version() -> str | None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT max(obj_description(p.oid, 'pg_proc')) FROM pg_proc p "
            "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public' AND p.proname = 'clone_schema'"
        )
        return cursor.fetchone()[0]


def schema_drop(schema_name: str) -> None:
    """Drop an agency schema if it exists (offboarding, tests, the benchmark), through the owner's
    `public.muster_schema_drop`, which refuses anything that is not an agency schema."""
    if schema_name in {"public", template_schema_name()}:
        raise ValueError(f"Refusing to drop {schema_name}.")
    with connection.cursor() as cursor:
        cursor.execute("SELECT public.muster_schema_drop(%s)", [schema_name])
