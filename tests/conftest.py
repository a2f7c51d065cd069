"""Shared test fixtures: one committed demo-sized world built through the services, and the real
process stack (Celery worker + web server) for tests that prove background work and browser journeys."""

from __future__ import annotations

import pytest
from django.db import connection

from agencies import schemas
from tests.support import World, build_world


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """After pytest-django creates the test database: migrate the agency template, build the world."""
    with django_db_blocker.unblock():
        schemas.template_schema_migrate()
        world = build_world()
        connection.set_schema_to_public()
    yield world


@pytest.fixture(scope="session")
def world(django_db_setup) -> World:
    return django_db_setup


@pytest.fixture(autouse=True)
def _public_schema_after_each_test():
    yield
    connection.set_schema_to_public()


@pytest.fixture(scope="session")
def stack(django_db_setup, django_db_blocker):
    """A real Celery worker and web server (gunicorn) running against the test database."""
    from tests.stack import Stack

    stack = Stack()
    stack.start()
    yield stack
    stack.stop()
