"""network/inline.py: child rows read in the parent's statement come back as the instances a prefetch gives."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.models import OuterRef
from django.test.utils import CaptureQueriesContext

from activations.models import Activation, ChecklistItem
from agencies.models import Role
from governance import services as governance_services
from network.inline import inline_instances, inline_rows
from tests.support import open_activation

pytestmark = pytest.mark.django_db


def test_rows_read_with_their_parent_keep_types_order_and_the_related_object_only_where_the_key_is_set(world):
    governance_services.protocol_save(
        actor=world.state_admin,
        network=world.agency_a.network,
        incident_type="mci",
        name="Mass casualty protocol",
        steps=[("Later step", 24, 48), ("First step", 0, 1)],
        follow_up_days=[],
    )
    activation = open_activation(world)
    coordinator = world.a[Role.COORDINATOR]
    ChecklistItem.objects.filter(activation=activation, title="First step").update(done_by=coordinator)
    items = ChecklistItem.objects.filter(activation=OuterRef("pk")).order_by("due_at")
    with CaptureQueriesContext(connection) as queries:
        rows = inline_rows(items, "id", "title", "due_at", "done_by_id", "done_by__full_name")
        loaded = Activation.objects.annotate(rows=rows).get(pk=activation.pk)
        first, later = inline_instances(ChecklistItem, loaded.rows)
        assert first.done_by.full_name == coordinator.full_name and first.done_by.pk == coordinator.pk
        assert later.done_by is None  # a null key: no related object
    assert len(queries) == 1
    expected = list(ChecklistItem.objects.filter(activation=activation).order_by("due_at"))
    assert [(i.pk, i.title, i.due_at) for i in (first, later)] == [(e.pk, e.title, e.due_at) for e in expected]
    assert inline_instances(ChecklistItem, None) == []
