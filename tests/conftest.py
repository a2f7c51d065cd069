"""Shared test fixtures: one committed demo-sized world built through the services, and the real
process stack (Celery worker + web server) for tests that prove background work and browser journeys."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connection

from agencies import db_roles, schemas
from tests.support import World, build_world


@pytest.fixture(scope="session")
def django_db_setup(request, django_test_environment, django_db_blocker):
    """Create the test database, migrate the agency template, build the world.

    Replaces pytest-django's fixture, which sets up only the databases that collected tests
    mark with django_db: a run of only browser or worker tests would otherwise build the
    world in the development database.
    """
    from django.test.utils import setup_databases, teardown_databases

    with django_db_blocker.unblock():
        db_cfg = setup_databases(verbosity=request.config.option.verbose, interactive=False, aliases={"default"})
        name = connection.settings_dict["NAME"]
        assert name.startswith("test_"), f"refusing to build test data in {name!r}"
        schemas.template_schema_migrate()
        if settings.MUSTER_DB_RUNTIME_ROLE:  # what migrate_network does: the stack connects as this role
            assert not db_roles.runtime_role_problems(settings.MUSTER_DB_RUNTIME_ROLE)
            db_roles.runtime_grant(settings.MUSTER_DB_RUNTIME_ROLE)
        world = build_world()
        connection.set_schema_to_public()
    yield world
    with django_db_blocker.unblock():
        # Server processes started by tests may still hold connections for a moment.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                [name],
            )
        teardown_databases(db_cfg, verbosity=request.config.option.verbose)


@pytest.fixture
def world(django_db_setup, django_db_blocker) -> World:
    """The shared world, with its public objects re-read so one test's in-memory changes never leak."""
    world = django_db_setup
    with django_db_blocker.unblock():
        for name in ("agency_a", "agency_b", "activation", "target"):
            getattr(world, name).refresh_from_db()
    return world


@pytest.fixture(autouse=True)
def _public_schema_after_each_test():
    yield
    connection.set_schema_to_public()


@pytest.fixture(autouse=True)
def _rate_limits_cleared_after_each_test():
    """Rate-limit counters (password-reset e-mails) live in Redis, outside each test's transaction: one
    test's requests must not use up the next one's allowance."""
    yield
    from network.ratelimit import rate_limits_clear

    try:
        rate_limits_clear()
    except Exception:  # noqa: BLE001, S110 - a test that took Redis away; nothing was counted there
        pass  # nosec B110


@pytest.fixture(scope="session")
def stack(django_db_setup, django_db_blocker):
    """A real Celery worker and web server (gunicorn) running against the test database."""
    from tests.stack import Stack

    stack = Stack()
    stack.start()
    yield stack
    stack.stop()
