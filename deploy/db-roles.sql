-- The two PostgreSQL roles Muster runs with (docs/operations.md#database-roles), created or brought
-- back into shape on every start by docker-compose's `db-roles` step, as the PostgreSQL superuser:
--   muster_owner  owns the database, its schemas and tables; runs migrate_network and restore_agency
--   muster_app    web, worker and beat: owns nothing, may not create anything, is no member of the owner;
--                 migrate_network grants it data privileges (agencies/db_roles.py)
-- psql -v ON_ERROR_STOP=1 -v owner_password=... -v app_password=... -f db-roles.sql
SELECT 'CREATE ROLE muster_owner' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'muster_owner') \gexec
SELECT 'CREATE ROLE muster_app' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'muster_app') \gexec
ALTER ROLE muster_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD :'owner_password';
ALTER ROLE muster_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOINHERIT PASSWORD :'app_password';
SELECT 'REVOKE muster_owner FROM muster_app'
    WHERE pg_has_role('muster_app', 'muster_owner', 'MEMBER') \gexec
SELECT format('ALTER DATABASE %I OWNER TO muster_owner', current_database()) \gexec
-- An installation from before the two roles ran everything as one superuser: hand its schemas, tables,
-- functions and types to the owner (sequences follow their tables). Nothing is owned by muster_app.
SELECT format('ALTER SCHEMA %I OWNER TO muster_owner', nspname) FROM pg_namespace
    WHERE nspname !~ '^pg_' AND nspname <> 'information_schema' AND nspowner <> 'muster_owner'::regrole \gexec
SELECT format('ALTER TABLE %I.%I OWNER TO muster_owner', n.nspname, c.relname)
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'v', 'm') AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
    AND c.relowner <> 'muster_owner'::regrole \gexec
SELECT format('ALTER ROUTINE %s OWNER TO muster_owner', p.oid::regprocedure)
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' AND p.proowner <> 'muster_owner'::regrole \gexec
SELECT format('ALTER TYPE %s OWNER TO muster_owner', t.oid::regtype)
    FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
    WHERE t.typtype IN ('e', 'd') AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
    AND t.typowner <> 'muster_owner'::regrole \gexec
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
