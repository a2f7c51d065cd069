"""Web and worker connect as a runtime role that owns nothing: PostgreSQL itself refuses it any way to
undo the audit log (disable or drop its triggers, update, delete, truncate), and it makes or removes
agency schemas only through the owner's two checked functions (agencies/db_roles.py)."""

import io
import os

import dj_database_url
import psycopg
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from agencies import db_roles, schemas
from network.audit import CHAIN_LOCK, chain_hash, event_text

# No test transaction here: the runtime role's connection must see committed rows, and dropping a
# schema waits for every lock an open test transaction holds on the public tables it references.


@pytest.fixture
def owner(world, django_db_blocker):
    """The test process's own connection (the owner role), outside any test transaction."""
    with django_db_blocker.unblock():
        yield connection


@pytest.fixture
def runtime(world):
    """A connection to the test database as the runtime role, the way gunicorn and Celery connect."""
    url = os.environ.get("MUSTER_RUNTIME_DATABASE_URL")
    if not url or not settings.MUSTER_DB_RUNTIME_ROLE:
        pytest.skip("run through ./dev test, which creates the runtime role and names its URL")
    cfg = dj_database_url.parse(url)
    params = {"host": cfg["HOST"], "port": cfg["PORT"], "user": cfg["USER"], "password": cfg["PASSWORD"]}
    with psycopg.connect(
        dbname=connection.settings_dict["NAME"], autocommit=True, **{k: v for k, v in params.items() if v}
    ) as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == settings.MUSTER_DB_RUNTIME_ROLE
        # It does its work (so each refusal below is that one limit, not a role with no access at all).
        assert conn.execute("SELECT count(*) FROM network_auditevent").fetchone()[0] > 0
        assert conn.execute("SELECT count(*) FROM agencies_agency").fetchone()[0] > 0
        yield conn


@pytest.mark.parametrize(
    "statement",
    [
        "ALTER TABLE network_auditevent DISABLE TRIGGER muster_audit_no_change",
        "ALTER TABLE network_auditevent DISABLE TRIGGER USER",
        "DROP TRIGGER muster_audit_no_change ON network_auditevent",
        "UPDATE network_auditevent SET outcome = 'failure'",
        "DELETE FROM network_auditevent WHERE chain_position > 1",
        "TRUNCATE network_auditevent CASCADE",
        "ALTER TABLE network_auditevent OWNER TO CURRENT_USER",
        "DROP TABLE network_auditevent CASCADE",
        "CREATE OR REPLACE FUNCTION muster_audit_append_only() RETURNS trigger LANGUAGE plpgsql "
        "AS $$ BEGIN RETURN OLD; END $$",
        "SET session_replication_role = replica",  # would skip every trigger
    ],
)
def test_postgresql_refuses_the_runtime_role_every_way_to_undo_the_audit_log(runtime, statement):
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        runtime.execute(statement)


def test_the_runtime_role_owns_nothing_and_is_no_superuser(runtime, owner):
    role = settings.MUSTER_DB_RUNTIME_ROLE
    assert db_roles.runtime_role_problems(role) == []
    owned = runtime.execute(
        "SELECT (SELECT count(*) FROM pg_class WHERE relowner = r.oid) + "
        "(SELECT count(*) FROM pg_namespace WHERE nspowner = r.oid) + "
        "(SELECT count(*) FROM pg_proc WHERE proowner = r.oid), r.rolsuper, pg_has_role(r.oid, "
        "(SELECT relowner FROM pg_class WHERE oid = 'public.network_auditevent'::regclass), 'MEMBER') "
        "FROM pg_roles r WHERE r.rolname = current_user"
    ).fetchone()
    assert owned == (0, False, False)


def test_the_runtime_role_appends_audit_events_that_verify(runtime, owner):
    """Its one write to the audit log: appending at the head, as audit_record does under the chain's lock."""
    with runtime.transaction():
        runtime.execute("SELECT pg_advisory_xact_lock(%s)", [CHAIN_LOCK])
        position, head = runtime.execute(
            "SELECT chain_position, hash FROM network_auditevent ORDER BY chain_position DESC LIMIT 1"
        ).fetchone()
        moment = runtime.execute("SELECT now()").fetchone()[0]
        fields = dict(
            previous_hash=head,
            chain_position=position + 1,
            occurred_at=moment,
            actor_id=None,
            agency_id=None,
            action="access.denied",
            object_type="url",
            object_id="runtime-role-test",
            outcome="denied",
            source_ip=None,
        )
        runtime.execute(
            "INSERT INTO network_auditevent (occurred_at, action, object_type, object_id, outcome, chain_position, "
            "previous_hash, hash) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            [
                moment,
                "access.denied",
                "url",
                "runtime-role-test",
                "denied",
                position + 1,
                head,
                chain_hash(event_text(**fields)),
            ],
        )
    out = io.StringIO()
    call_command("audit_verify", stdout=out)
    assert "Audit chain intact" in out.getvalue()


def test_the_runtime_role_makes_and_removes_agency_schemas_only_through_the_owners_functions(runtime, owner):
    template = schemas.template_schema_name()
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        runtime.execute('CREATE SCHEMA "agency_made_by_runtime"')
    for refused in (
        "SELECT public.muster_schema_drop('public')",
        "SELECT public.muster_schema_drop('pg_catalog')",
        "SELECT public.muster_schema_clone('public', 'agency_copy_of_public', false)",
        "SELECT public.muster_schema_clone(%s, 'public', false)",
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            runtime.execute(refused, [template] if "%s" in refused else [])
    try:
        runtime.execute("SELECT public.muster_schema_clone(%s, 'agency_runtime_clone', false)", [template])
        # The owner's default privileges reach the new schema: the runtime role can use its tables...
        count = runtime.execute("SELECT count(*) FROM agency_runtime_clone.django_migrations").fetchone()[0]
        assert count > 0
        # ...but owns none of them.
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            runtime.execute("ALTER TABLE agency_runtime_clone.django_migrations DISABLE TRIGGER ALL")
        runtime.execute("SELECT public.muster_schema_drop('agency_runtime_clone')")
        assert runtime.execute("SELECT to_regnamespace('agency_runtime_clone')").fetchone()[0] is None
    finally:
        schemas.schema_drop("agency_runtime_clone")


def test_the_suites_web_server_and_worker_connect_as_the_runtime_role(runtime):
    """tests/stack.py starts gunicorn and Celery with this environment; a process started with it is the
    runtime role, as web, worker and beat are under ./dev up and docker-compose.yml."""
    import subprocess
    import sys

    from tests.stack import ROOT, Stack

    probe = (
        "from django.db import connection; c = connection.cursor(); "
        "c.execute('SELECT current_user'); print(c.fetchone()[0])"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", probe],
        cwd=ROOT,
        env=Stack().env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == settings.MUSTER_DB_RUNTIME_ROLE


def test_migrate_network_refuses_a_runtime_role_that_could_undo_the_audit_log(owner, settings):
    from django.core.management.base import CommandError

    from agencies.management.commands.migrate_network import Command

    settings.MUSTER_DB_RUNTIME_ROLE = connection.settings_dict["USER"] or "postgres"  # the owner itself
    with pytest.raises(CommandError, match="The runtime role is not safe: .*owns objects in this database"):
        Command()._grant_runtime_role(verbosity=0)
