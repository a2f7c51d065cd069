"""Agency schemas: a migrated template schema, and new agencies cloned from it.

Cloning copies the template's tables and its `django_migrations` rows in one SQL call, so a
new agency does not replay every migration. The new schema's migration records are then
compared with the migration files; `migrate_schemas` runs only when something is missing
(see docs/onboarding.md and docs/performance.md).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable

from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.db.migrations.loader import MigrationLoader
from django_tenants.clone import CLONE_SCHEMA_FUNCTION
from django_tenants.utils import schema_exists

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
