"""With TENANT_LIMIT_SET_CALLS the connection remembers the search path it set; these prove it never
answers from the wrong agency's schema after the transaction or a savepoint that set it rolls back."""

import pytest
from django.db import connection, transaction
from django_tenants.utils import tenant_context

from encounters.models import Encounter

pytestmark = pytest.mark.django_db


def _current_schema() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        return cursor.fetchone()[0]


def test_the_search_path_is_set_once_per_tenant_not_before_every_query(world, django_assert_max_num_queries):
    with tenant_context(world.agency_a):
        Encounter.objects.count()
        with django_assert_max_num_queries(3):  # three counts, no SET search_path between them
            Encounter.objects.count()
            Encounter.objects.count()
            Encounter.objects.count()


def test_a_rolled_back_savepoint_that_switched_agency_leaves_no_stale_path(world):
    a_count = None
    with tenant_context(world.agency_a):
        a_count = Encounter.objects.count()
        assert _current_schema() == world.agency_a.schema_name
        sid = transaction.savepoint()
        connection.set_tenant(world.agency_b)
        assert Encounter.objects.count() == 0 and _current_schema() == world.agency_b.schema_name
        transaction.savepoint_rollback(sid)  # PostgreSQL restores A's path; the cache must follow
        # The connection still says B. Trusting a cached "B" would send no SET and read A's rows.
        assert Encounter.objects.count() == 0 and _current_schema() == world.agency_b.schema_name
        connection.set_tenant(world.agency_a)
        assert _current_schema() == world.agency_a.schema_name
        assert Encounter.objects.count() == a_count > 0
