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


# --- The keyed chain and anchors (issue 12, section 6) -------------------------------------------------


def _disable_append_only():
    """What an intruder with the owner's or a superuser's password would do first."""
    sql("SET CONSTRAINTS ALL IMMEDIATE")
    sql("ALTER TABLE network_auditevent DISABLE TRIGGER USER")


@pytest.mark.django_db
def test_an_edit_rechained_without_the_key_is_still_detected(world):
    target = audit_record(action=AuditAction.SIGN_IN, actor=world.state_admin)
    audit_record(action=AuditAction.SIGN_OUT, actor=world.state_admin)
    _disable_append_only()
    sql("UPDATE network_auditevent SET outcome = 'failure' WHERE id = %s", [target.pk])
    # Recompute every hash from the edited event on with the published, unkeyed formula (SHA-256 of the
    # fields and the previous hash), as the database trigger used to: that used to pass audit_verify.
    sql(
        """
        DO $$
        DECLARE r record; previous text;
        BEGIN
            SELECT hash INTO previous FROM network_auditevent
                WHERE chain_position < (SELECT chain_position FROM network_auditevent WHERE id = %s)
                ORDER BY chain_position DESC LIMIT 1;
            FOR r IN SELECT id FROM network_auditevent
                     WHERE chain_position >= (SELECT chain_position FROM network_auditevent WHERE id = %s)
                     ORDER BY chain_position LOOP
                UPDATE network_auditevent e SET previous_hash = coalesce(previous, ''),
                    hash = encode(sha256(convert_to(concat_ws('|', coalesce(previous, ''),
                        to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'),
                        coalesce(e.actor_id::text, ''), coalesce(e.agency_id::text, ''), e.action, e.object_type,
                        e.object_id, e.outcome, coalesce(host(e.source_ip), '')), 'UTF8')), 'hex')
                WHERE e.id = r.id RETURNING hash INTO previous;
            END LOOP;
        END $$;
        """.replace("%s", str(target.pk))
    )
    with pytest.raises(CommandError, match=f"broken at event {target.pk}: its content was changed"):
        call_command("audit_verify")


@pytest.mark.django_db
def test_an_event_inserted_without_the_key_does_not_verify(world):
    """Whoever can write rows (the runtime role, an injected query) can append, but not a verifying event."""
    audit_record(action=AuditAction.SIGN_IN, actor=world.state_admin)
    with connection.cursor() as cursor:
        cursor.execute("SELECT chain_position, hash FROM network_auditevent ORDER BY chain_position DESC LIMIT 1")
        position, head = cursor.fetchone()
        cursor.execute(
            "INSERT INTO network_auditevent (occurred_at, action, object_type, object_id, outcome, chain_position, "
            "previous_hash, hash) VALUES (now(), 'auth.sign_in', '', '', 'success', %s, %s, %s) RETURNING id",
            [position + 1, head, "ab" * 32],
        )
        forged = cursor.fetchone()[0]
    with pytest.raises(CommandError, match=f"broken at event {forged}: its content was changed"):
        call_command("audit_verify")


def _anchor() -> str:
    out = io.StringIO()
    call_command("audit_anchor", stdout=out)
    return out.getvalue().strip()


@pytest.mark.django_db
def test_an_anchor_holds_while_the_log_grows(world):
    audit_record(action=AuditAction.SIGN_IN, actor=world.state_admin)
    anchor = _anchor()
    assert anchor.startswith("muster-audit-anchor/v1/") and len(anchor.split()) == 1  # one line for a ticket
    audit_record(action=AuditAction.SIGN_OUT, actor=world.state_admin)
    out = io.StringIO()
    call_command("audit_verify", anchor=[anchor], stdout=out)
    assert "1 anchor(s) still in the chain" in out.getvalue()


@pytest.mark.django_db
def test_a_deleted_tail_fails_against_an_anchor_taken_before_it(world):
    kept = audit_record(action=AuditAction.SIGN_IN, actor=world.state_admin)
    audit_record(action=AuditAction.ENCOUNTER_VIEWED, actor=world.state_admin)
    anchor = _anchor()
    _disable_append_only()
    sql("DELETE FROM network_auditevent WHERE chain_position > %s", [kept.chain_position])
    sql("ALTER TABLE network_auditevent ENABLE TRIGGER USER")
    call_command("audit_verify", stdout=io.StringIO())  # what is left is a perfect chain: only the anchor knows
    with pytest.raises(CommandError, match="is gone: the chain ends at position .* removed from its end"):
        call_command("audit_verify", anchor=[anchor])
    # Writing new events over the gap does not bring the anchored event back.
    audit_record(action=AuditAction.SIGN_OUT, actor=world.state_admin)
    audit_record(action=AuditAction.SIGN_OUT, actor=world.state_admin)
    with pytest.raises(CommandError, match="is not the anchored event"):
        call_command("audit_verify", anchor=[anchor])


@pytest.mark.django_db
def test_an_altered_or_forged_anchor_is_refused(world, settings):
    audit_record(action=AuditAction.SIGN_IN, actor=world.state_admin)
    anchor = _anchor()
    prefix, position, event_id, moment, head, signature = anchor.rsplit("/", 5)
    moved = "/".join([prefix, str(int(position) - 1), event_id, moment, head, signature])
    with pytest.raises(CommandError, match="signature does not verify"):
        call_command("audit_verify", anchor=[moved])
    settings.MUSTER_AUDIT_KEY = "b3RoZXIta2V5LW5vdC10aGUtbmV0d29ya3Mta2V5ISE="
    with pytest.raises(CommandError, match="signature does not verify"):
        call_command("audit_verify", anchor=[anchor])
