"""Published figures are append-only in the database itself: a trigger refuses UPDATE, DELETE and
TRUNCATE on publications, their figures and the per-year granularity decisions (as network/audit_sql.py
does for the audit log), so no code path, admin action or stray query can change a published number."""

TABLES = ("reporting_publication", "reporting_publishedfigure", "reporting_agencyreportinggranularity")

INSTALL = """
CREATE OR REPLACE FUNCTION muster_published_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'published figures never change (% on % refused)', TG_OP, TG_TABLE_NAME;
END $$ LANGUAGE plpgsql;
""" + "".join(
    f"""
DROP TRIGGER IF EXISTS muster_published_no_change ON {table};
CREATE TRIGGER muster_published_no_change BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION muster_published_append_only();
DROP TRIGGER IF EXISTS muster_published_no_truncate ON {table};
CREATE TRIGGER muster_published_no_truncate BEFORE TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION muster_published_append_only();
"""
    for table in TABLES
)  # formats in only the constant table names

UNINSTALL = (
    "".join(
        f"""
DROP TRIGGER IF EXISTS muster_published_no_change ON {table};
DROP TRIGGER IF EXISTS muster_published_no_truncate ON {table};
"""
        for table in TABLES
    )
    + "DROP FUNCTION IF EXISTS muster_published_append_only();\n"
)
