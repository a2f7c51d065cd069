"""The audit table's guards in the database itself: append-only, and a single unbroken line.

Since the chain is keyed (HMAC under MUSTER_AUDIT_KEY, network/audit.py), the database no longer
computes hashes: it never sees the key. Its trigger keeps writers in one line (each new event must
follow the current head, under the chain's lock) and refuses every UPDATE, DELETE and TRUNCATE;
the runtime role cannot disable or drop these triggers because it does not own the table
(agencies/db_roles.py).
"""

INSTALL = """
CREATE OR REPLACE FUNCTION muster_audit_chain() RETURNS trigger AS $$
DECLARE previous text; position bigint;
BEGIN
    -- One writer at a time (audit_record takes the same lock first): every event follows the head.
    PERFORM pg_advisory_xact_lock(74230001);
    SELECT hash, chain_position INTO previous, position FROM network_auditevent
        WHERE chain_position IS NOT NULL ORDER BY chain_position DESC LIMIT 1;
    IF NEW.chain_position IS DISTINCT FROM coalesce(position, 0) + 1
            OR NEW.previous_hash IS DISTINCT FROM coalesce(previous, '')
            OR NEW.hash !~ '^[0-9a-f]{64}$' THEN
        RAISE EXCEPTION 'audit events are appended at the head of the chain (position % expected)',
            coalesce(position, 0) + 1;
    END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION muster_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only (% refused)', TG_OP;
END $$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS muster_audit_chain ON network_auditevent;
CREATE TRIGGER muster_audit_chain BEFORE INSERT ON network_auditevent
    FOR EACH ROW EXECUTE FUNCTION muster_audit_chain();
DROP TRIGGER IF EXISTS muster_audit_no_change ON network_auditevent;
CREATE TRIGGER muster_audit_no_change BEFORE UPDATE OR DELETE ON network_auditevent
    FOR EACH ROW EXECUTE FUNCTION muster_audit_append_only();
DROP TRIGGER IF EXISTS muster_audit_no_truncate ON network_auditevent;
CREATE TRIGGER muster_audit_no_truncate BEFORE TRUNCATE ON network_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION muster_audit_append_only();
"""

UNINSTALL = """
DROP TRIGGER IF EXISTS muster_audit_chain ON network_auditevent;
DROP TRIGGER IF EXISTS muster_audit_no_change ON network_auditevent;
DROP TRIGGER IF EXISTS muster_audit_no_truncate ON network_auditevent;
DROP FUNCTION IF EXISTS muster_audit_chain();
DROP FUNCTION IF EXISTS muster_audit_append_only();
"""

# --- The unkeyed SHA-256 chain of migration 0005, kept for that migration and for the one that
# --- verifies it once more before re-chaining every event under the key.

LEGACY_EVENT_TEXT = """concat_ws('|', {prev}, to_char({t}.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'),
    coalesce({t}.actor_id::text, ''), coalesce({t}.agency_id::text, ''), {t}.action, {t}.object_type,
    {t}.object_id, {t}.outcome, coalesce(host({t}.source_ip), ''))"""

_LEGACY_NEW = LEGACY_EVENT_TEXT.format(prev="NEW.previous_hash", t="NEW")
_LEGACY_ROW = LEGACY_EVENT_TEXT.format(prev="previous_hash", t="e")

LEGACY_INSTALL = f"""
CREATE OR REPLACE FUNCTION muster_audit_chain() RETURNS trigger AS $$
DECLARE previous text; position bigint;
BEGIN
    -- One writer at a time: every event sees the one committed before it.
    PERFORM pg_advisory_xact_lock(74230001);
    SELECT hash, chain_position INTO previous, position FROM network_auditevent
        WHERE chain_position IS NOT NULL ORDER BY chain_position DESC LIMIT 1;
    NEW.previous_hash := coalesce(previous, '');
    NEW.chain_position := coalesce(position, 0) + 1;
    NEW.hash := encode(sha256(convert_to({_LEGACY_NEW}, 'UTF8')), 'hex');
    RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION muster_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only (% refused)', TG_OP;
END $$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS muster_audit_chain ON network_auditevent;
CREATE TRIGGER muster_audit_chain BEFORE INSERT ON network_auditevent
    FOR EACH ROW EXECUTE FUNCTION muster_audit_chain();
DROP TRIGGER IF EXISTS muster_audit_no_change ON network_auditevent;
CREATE TRIGGER muster_audit_no_change BEFORE UPDATE OR DELETE ON network_auditevent
    FOR EACH ROW EXECUTE FUNCTION muster_audit_append_only();
DROP TRIGGER IF EXISTS muster_audit_no_truncate ON network_auditevent;
CREATE TRIGGER muster_audit_no_truncate BEFORE TRUNCATE ON network_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION muster_audit_append_only();
"""  # nosec B608  # formats in only the constant LEGACY_EVENT_TEXT

# Rows whose stored hashes do not follow from their fields and the previous row (the unkeyed chain).
LEGACY_VERIFY = f"""
SELECT id, hash, previous_hash,
       lag(hash, 1, '') OVER (ORDER BY chain_position) AS expected_previous,
       encode(sha256(convert_to({_LEGACY_ROW}, 'UTF8')), 'hex') AS expected_hash
FROM network_auditevent e
ORDER BY chain_position
"""  # nosec B608  # formats in only the constant LEGACY_EVENT_TEXT
