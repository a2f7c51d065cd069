#!/bin/sh
# Lets a streaming replica (docker-compose's `db-replica`, profile "replica") copy the primary: a role that
# may only replicate, and a pg_hba.conf line admitting it with a password. The postgres image runs this
# once, when it initialises an empty data volume; it does nothing unless MUSTER_REPLICATION_PASSWORD is set.
# An existing volume: run the same two steps by hand (docs/operations.md#a-read-replica).
set -eu
if [ -z "${MUSTER_REPLICATION_PASSWORD:-}" ]; then
  exit 0
fi
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v password="$MUSTER_REPLICATION_PASSWORD" <<'SQL'
CREATE ROLE muster_replicator WITH REPLICATION LOGIN PASSWORD :'password';
SQL
echo "host replication muster_replicator all scram-sha-256" >> "$PGDATA/pg_hba.conf"
