"""`public.muster_audit_chain_head()`: take the audit chain's lock and read its head in one statement.

Appending an event used to cost three statements: the lock, the head, the insert. The lock and the read
must stay in that order (a head read before the lock may be superseded by the time the lock is held), so
they cannot be one SELECT: PostgreSQL takes a statement's snapshot before it runs, lock included. In a
VOLATILE PL/pgSQL function each statement takes its own snapshot under READ COMMITTED, so the read after
`pg_advisory_xact_lock` sees every event committed by the lock's previous holder. The function runs with
its caller's rights (not SECURITY DEFINER): it reads nothing its caller could not.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION public.muster_audit_chain_head(chain_lock bigint)
RETURNS TABLE (event_id bigint, chain_position bigint, hash varchar, occurred_at timestamptz)
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    PERFORM pg_advisory_xact_lock(chain_lock);
    RETURN QUERY
        SELECT e.id::bigint, e.chain_position, e.hash, e.occurred_at
        FROM public.network_auditevent e
        WHERE e.chain_position IS NOT NULL
        ORDER BY e.chain_position DESC
        LIMIT 1;
END
$fn$;
"""

DROP = "DROP FUNCTION IF EXISTS public.muster_audit_chain_head(bigint);"


class Migration(migrations.Migration):
    dependencies = [("network", "0014_networks_have_policy_and_standard")]

    operations = [migrations.RunSQL(CREATE, DROP)]
