"""Key the audit chain: every existing event is re-chained with HMAC-SHA256 under MUSTER_AUDIT_KEY.

The unkeyed chain is verified first; if it is already broken the migration stops, so re-chaining
never launders an earlier tampering (investigate with `audit_verify` of the previous release).
From here on the database only keeps the chain a single line; the hashes come from the application.
"""

from django.db import migrations

from network.audit_sql import INSTALL, LEGACY_VERIFY, UNINSTALL


def rechain(apps, schema_editor):
    from network.audit import chain_hash, event_text

    with schema_editor.connection.cursor() as cursor:
        cursor.execute(LEGACY_VERIFY)
        for event_id, stored, previous, expected_previous, expected_hash in cursor.fetchall():
            if previous != expected_previous or stored != expected_hash:
                raise RuntimeError(
                    f"The audit chain is already broken at event {event_id}; not re-chaining it under the key. "
                    "Investigate first (docs/operations.md, audit log)."
                )
        cursor.execute(UNINSTALL)  # the append-only trigger would refuse the re-chaining updates
        cursor.execute(
            "SELECT id, chain_position, occurred_at, actor_id, agency_id, action, object_type, object_id, outcome, "
            "host(source_ip) FROM network_auditevent ORDER BY chain_position"
        )
        rows = cursor.fetchall()
        previous = ""
        for event_id, position, occurred_at, actor_id, agency_id, action, object_type, object_id, outcome, ip in rows:
            text = event_text(
                previous_hash=previous,
                chain_position=position,
                occurred_at=occurred_at,
                actor_id=actor_id,
                agency_id=agency_id,
                action=action,
                object_type=object_type,
                object_id=object_id,
                outcome=outcome,
                source_ip=ip,
            )
            digest = chain_hash(text)
            cursor.execute(
                "UPDATE network_auditevent SET previous_hash = %s, hash = %s WHERE id = %s", [previous, digest, event_id]
            )
            previous = digest


class Migration(migrations.Migration):
    dependencies = [
        ("network", "0012_policy_publication_delay"),
    ]

    operations = [
        migrations.RunPython(rechain),
        migrations.RunSQL(INSTALL),
    ]
