"""The audit log holds in the database itself: append-only triggers and a hash chain that
`manage.py audit_verify` checks."""

import io
import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, connections, transaction

from network.audit import AuditAction, audit_record
from network.models import AuditEvent


def sql(statement, params=None):
    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])


@pytest.mark.django_db
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE network_auditevent SET action = 'covered.up'",
        "DELETE FROM network_auditevent",
        "TRUNCATE network_auditevent CASCADE",
    ],
)
def test_the_database_refuses_to_change_or_remove_audit_events(world, statement):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        sql(statement)


@pytest.mark.django_db
def test_each_event_chains_to_the_one_before(world):
    first = audit_record(action=AuditAction.SIGN_OUT, actor=world.state_admin)
    second = audit_record(action=AuditAction.SIGN_OUT, actor=world.state_admin)
    first_hash = AuditEvent.objects.values_list("hash", flat=True).get(pk=first.pk)
    second_row = AuditEvent.objects.values("previous_hash", "hash").get(pk=second.pk)
    assert len(first_hash) == 64 and second_row["previous_hash"] == first_hash != second_row["hash"]
    out = io.StringIO()
    call_command("audit_verify", stdout=out)
    assert "Audit chain intact" in out.getvalue()


@pytest.mark.django_db
def test_audit_verify_names_the_first_edited_event(world):
    target = audit_record(action=AuditAction.SIGN_IN, actor=world.state_admin)
    audit_record(action=AuditAction.SIGN_OUT, actor=world.state_admin)
    sql("SET CONSTRAINTS ALL IMMEDIATE")
    sql("ALTER TABLE network_auditevent DISABLE TRIGGER muster_audit_no_change")  # what an intruder would do
    sql("UPDATE network_auditevent SET outcome = 'failure' WHERE id = %s", [target.pk])
    with pytest.raises(CommandError, match=f"broken at event {target.pk}: its content was changed"):
        call_command("audit_verify")


@pytest.mark.django_db
def test_audit_verify_notices_a_removed_event(world):
    removed = audit_record(action=AuditAction.SIGN_IN, actor=world.state_admin)
    after = audit_record(action=AuditAction.SIGN_OUT, actor=world.state_admin)
    sql("SET CONSTRAINTS ALL IMMEDIATE")
    sql("ALTER TABLE network_auditevent DISABLE TRIGGER muster_audit_no_change")
    sql("DELETE FROM network_auditevent WHERE id = %s", [removed.pk])
    with pytest.raises(CommandError, match=f"broken at event {after.pk}: the event before it"):
        call_command("audit_verify")


def test_concurrent_writers_keep_one_unbroken_chain(world, django_db_blocker):
    with django_db_blocker.unblock():

        def write(n):
            try:
                for _ in range(n):
                    audit_record(action=AuditAction.ACCESS_DENIED, object_type="url", object_id="x")
            finally:
                connections.close_all()

        threads = [threading.Thread(target=write, args=(15,)) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        call_command("audit_verify", stdout=io.StringIO())
