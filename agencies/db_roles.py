"""The two PostgreSQL roles, and the only DDL the runtime role may cause.

OWNER: owns the database's schemas and tables; `migrate_network` and `restore_agency` run as it.
RUNTIME: what web, worker and beat connect as (`MUSTER_DB_RUNTIME_ROLE`). It owns nothing and is
granted only SELECT, INSERT, UPDATE and DELETE on the application's tables (INSERT and SELECT on the
audit table), so PostgreSQL refuses it ALTER TABLE, DISABLE TRIGGER, DROP, TRUNCATE and any change
to audit rows: only a table's owner may touch its triggers.

Onboarding (clone an agency schema from the template, in the worker) and offboarding (drop one)
still need DDL at run time. They go through two SECURITY DEFINER functions owned by the owner role,
which check the schema names they are given and do that one thing: the runtime role can ask for an
agency schema to be made or removed, never run DDL of its own choosing. See docs/security.md.
"""

from __future__ import annotations

from django.db import connection

# Installed by agencies/migrations/0012_runtime_schema_functions.py (so they belong to the owner role), and
# again by 0013 (the clone finds the template's tables through pg_depend's index).
FUNCTIONS = r"""
CREATE OR REPLACE FUNCTION public.muster_schema_guard(schema_name text, must_be_agency boolean)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    IF schema_name IS NULL OR schema_name !~ '^[a-z][a-z0-9_]{0,62}$'
            OR schema_name IN ('public', 'information_schema') OR left(schema_name, 3) = 'pg_' THEN
        RAISE EXCEPTION 'muster: "%" is not an agency schema name', schema_name USING ERRCODE = '42501';
    END IF;
    -- An agency schema (and the template) holds its own django_migrations table.
    IF must_be_agency AND to_regclass(quote_ident(schema_name) || '.django_migrations') IS NULL THEN
        RAISE EXCEPTION 'muster: schema "%" is not an agency schema', schema_name USING ERRCODE = '42501';
    END IF;
END $fn$;

-- Copy the template's tables (constraints, indexes and identity positions under the same names) into a
-- new schema; with whole = true, django-tenants' clone_schema copies everything else a template may hold.
-- The template's tables are found through pg_depend's index (each table depends on its schema), never by
-- scanning pg_class for the schema: pg_class holds every agency's relations, and a scan of it made each
-- clone slower than the one before (docs/scaling.md).
CREATE OR REPLACE FUNCTION public.muster_schema_clone(template text, new_schema text, whole boolean)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    t record;
    tables oid[];
    statements text[];
    statement text;
BEGIN
    PERFORM public.muster_schema_guard(template, true);
    PERFORM public.muster_schema_guard(new_schema, false);
    IF whole THEN
        PERFORM public.clone_schema(template, new_schema, 'DATA');
        RETURN;
    END IF;
    EXECUTE format('CREATE SCHEMA %I', new_schema);
    SELECT coalesce(array_agg(c.oid), '{}') INTO tables
        FROM pg_depend d JOIN pg_class c ON c.oid = d.objid
        WHERE d.refclassid = 'pg_namespace'::regclass AND d.refobjid = quote_ident(template)::regnamespace
        AND d.classid = 'pg_class'::regclass AND d.objsubid = 0 AND c.relkind = 'r';
    -- Definitions are read with the template first on the path, so its own tables come out unqualified
    -- and, run with the new schema first on the path, land there; public tables stay qualified.
    PERFORM set_config('search_path', quote_ident(template) || ', pg_catalog, pg_temp', true);
    FOR t IN SELECT c.relname, obj_description(c.oid, 'pg_class') AS note FROM pg_class c
             WHERE c.oid = ANY(tables) ORDER BY c.relname LOOP
        EXECUTE format('CREATE TABLE %I.%I (LIKE %I.%I INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING CONSTRAINTS '
                       'INCLUDING STORAGE INCLUDING COMMENTS)', new_schema, t.relname, template, t.relname);
        EXECUTE format('INSERT INTO %I.%I OVERRIDING SYSTEM VALUE SELECT * FROM %I.%I',
                       new_schema, t.relname, template, t.relname);
        IF t.note IS NOT NULL THEN
            EXECUTE format('COMMENT ON TABLE %I.%I IS %L', new_schema, t.relname, t.note);
        END IF;
    END LOOP;
    SELECT coalesce(array_agg(format('ALTER TABLE %I.%I ADD CONSTRAINT %I %s', new_schema, c.relname, con.conname,
                                     pg_get_constraintdef(con.oid))
                              ORDER BY con.contype = 'f', c.relname, con.conname), '{}')
        INTO statements
        FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
        WHERE c.oid = ANY(tables) AND con.contype IN ('p', 'u', 'x', 'f');
    -- pg_get_indexdef always qualifies the table: "CREATE INDEX name ON agency_template.table USING ...".
    SELECT statements || coalesce(array_agg(replace(pg_get_indexdef(i.indexrelid),
                                                    ' ON ' || quote_ident(template) || '.',
                                                    ' ON ' || quote_ident(new_schema) || '.') ORDER BY 1), '{}')
        INTO statements
        FROM pg_index i
        WHERE i.indrelid = ANY(tables) AND NOT EXISTS (
            SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid AND con.conrelid = i.indrelid
            AND con.contype IN ('p', 'u', 'x'));
    PERFORM set_config('search_path', quote_ident(new_schema) || ', pg_catalog, pg_temp', true);
    FOREACH statement IN ARRAY statements LOOP
        EXECUTE statement;
    END LOOP;
    FOR t IN SELECT c.relname, a.attname, pg_sequence_last_value(pg_get_serial_sequence(
                 quote_ident(template) || '.' || quote_ident(c.relname), a.attname)::regclass) AS last
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
             WHERE c.oid = ANY(tables) AND a.attidentity <> '' AND a.attnum > 0 LOOP
        IF t.last IS NOT NULL THEN
            PERFORM setval(pg_get_serial_sequence(quote_ident(new_schema) || '.' || quote_ident(t.relname), t.attname),
                           t.last);
        END IF;
    END LOOP;
END $fn$;

-- Drop an agency schema (offboarding, a failed onboarding); never public, a system schema or a schema
-- that is not an agency's.
CREATE OR REPLACE FUNCTION public.muster_schema_drop(schema_name text)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    PERFORM public.muster_schema_guard(schema_name, false);
    IF to_regnamespace(quote_ident(schema_name)) IS NULL THEN
        RETURN;
    END IF;
    PERFORM public.muster_schema_guard(schema_name, true);
    EXECUTE format('DROP SCHEMA %I CASCADE', schema_name);
END $fn$;

REVOKE ALL ON FUNCTION public.muster_schema_guard(text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION public.muster_schema_clone(text, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION public.muster_schema_drop(text) FROM PUBLIC;
"""

FUNCTIONS_UNINSTALL = """
DROP FUNCTION IF EXISTS public.muster_schema_clone(text, text, boolean);
DROP FUNCTION IF EXISTS public.muster_schema_drop(text);
DROP FUNCTION IF EXISTS public.muster_schema_guard(text, boolean);
"""

DATA_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"


def _agency_schemas(cursor) -> list[str]:
    """The template and every agency schema: those holding their own django_migrations table."""
    cursor.execute(
        "SELECT n.nspname FROM pg_namespace n WHERE n.nspname <> 'public' "
        "AND to_regclass(quote_ident(n.nspname) || '.django_migrations') IS NOT NULL ORDER BY 1"
    )
    return [row[0] for row in cursor.fetchall()]


def runtime_role_problems(role: str) -> list[str]:
    """Why `role` is not a safe runtime role, in words; empty when it is one."""
    problems = []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls FROM pg_roles WHERE rolname = %s", [role]
        )
        row = cursor.fetchone()
        if row is None:
            return [f"role {role} does not exist"]
        for flag, name in zip(row, ("SUPERUSER", "CREATEROLE", "CREATEDB", "BYPASSRLS"), strict=True):
            if flag:
                problems.append(f"role {role} has {name}")
        cursor.execute(
            "SELECT (SELECT count(*) FROM pg_class WHERE relowner = r.oid) "
            "+ (SELECT count(*) FROM pg_namespace WHERE nspowner = r.oid) "
            "+ (SELECT count(*) FROM pg_proc WHERE proowner = r.oid) "
            "+ (SELECT count(*) FROM pg_database WHERE datname = current_database() AND datdba = r.oid) "
            "FROM pg_roles r WHERE r.rolname = %s",
            [role],
        )
        if cursor.fetchone()[0]:
            problems.append(f"role {role} owns objects in this database")
        cursor.execute(
            "SELECT pg_has_role(%s, c.relowner, 'USAGE') FROM pg_class c "
            "WHERE c.oid = 'public.network_auditevent'::regclass",
            [role],
        )
        if cursor.fetchone()[0]:
            problems.append(f"role {role} is (or can act as) the owner of the audit table")
    return problems


def runtime_grant(role: str) -> list[str]:
    """Grant the runtime role what web and worker need and nothing more, now and for tables the owner
    (the role running this) creates later. Idempotent. Returns the schemas it covered."""
    quote = connection.ops.quote_name
    runtime = quote(role)
    with connection.cursor() as cursor:
        schemas = ["public", *_agency_schemas(cursor)]
        statements = [
            # PostgreSQL before 15 lets every role create objects in public.
            "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
            f"ALTER DEFAULT PRIVILEGES GRANT {DATA_PRIVILEGES} ON TABLES TO {runtime}",
            f"ALTER DEFAULT PRIVILEGES GRANT USAGE, SELECT ON SEQUENCES TO {runtime}",
            f"ALTER DEFAULT PRIVILEGES GRANT USAGE ON SCHEMAS TO {runtime}",
        ]
        for schema in schemas:
            statements += [
                f"GRANT USAGE ON SCHEMA {quote(schema)} TO {runtime}",
                f"GRANT {DATA_PRIVILEGES} ON ALL TABLES IN SCHEMA {quote(schema)} TO {runtime}",
                f"REVOKE TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA {quote(schema)} FROM {runtime}",
                f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {quote(schema)} TO {runtime}",
            ]
        statements += [
            # The audit log: append and read, nothing else.
            f"REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON public.network_auditevent FROM {runtime}",
            f"GRANT EXECUTE ON FUNCTION public.muster_schema_clone(text, text, boolean) TO {runtime}",
            f"GRANT EXECUTE ON FUNCTION public.muster_schema_drop(text) TO {runtime}",
        ]
        for statement in statements:
            cursor.execute(statement)
    return schemas
