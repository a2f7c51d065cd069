"""Migrate everything in the right order: public schema, the agency template, then every agency; then
grant the runtime role (MUSTER_DB_RUNTIME_ROLE) its privileges. Run it as the owner role."""

import os

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from agencies import db_roles, schemas
from agencies.models import Agency

# Below this many schemas to migrate, forking a pool costs more than it saves.
PARALLEL_FROM = 8


class Command(BaseCommand):
    help = "Migrate the public schema, the agency template schema and every agency schema."

    def add_arguments(self, parser):
        parser.add_argument(
            "--executor",
            default="auto",
            choices=["auto", "standard", "multiprocessing"],
            help="how agency schemas the batched SQL cannot migrate are migrated (or all of them, when given); "
            f"auto: the batched SQL first, then Django's executor in parallel when {PARALLEL_FROM} or more are left "
            "and there is more than one CPU",
        )

    def handle(self, *args, **options):
        verbosity = options["verbosity"]
        call_command("migrate_schemas", shared=True, interactive=False, verbosity=verbosity)
        # What the template is about to apply, as SQL, while it still stands where the agencies stand
        # (None: nothing to apply, or a plan that must go through Django's executor in every schema).
        batch = schemas.migration_batch_prepare() if options["executor"] == "auto" else None
        # The template first: agencies created from now on are cloned from it.
        schemas.template_schema_migrate(verbosity=verbosity)
        names = list(Agency.objects.order_by("pk").values_list("schema_name", flat=True))
        existing = _existing_schemas(names)
        if verbosity >= 1 and len(existing) < len(names):
            self.stdout.write(f"{len(names) - len(existing)} agencies have no schema yet (being set up or failed).")
        # One query per 200 schemas finds those missing a migration; the rest are not touched.
        behind = schemas.schemas_behind(existing)
        # The template's SQL, applied per schema in batched transactions with the same migration records;
        # a schema at another state, or where the SQL fails, is left to Django's executor.
        left = schemas.schemas_migrate_batched(behind, batch) if behind and batch else behind
        if verbosity >= 1 and batch and behind:
            self.stdout.write(f"{len(behind) - len(left)} agency schemas migrated by the template's SQL.")
        if left:
            executor = options["executor"]
            if executor == "auto":
                parallel = len(left) >= PARALLEL_FROM and (os.cpu_count() or 1) > 1
                executor = "multiprocessing" if parallel else "standard"
            schemas.schemas_migrate(left, executor=executor, verbosity=verbosity)
            still = schemas.schemas_behind(left)
            if still:
                raise CommandError(f"{len(still)} agency schemas are still behind: {', '.join(still[:20])}")
        # Installed here, by the owner: the runtime role cannot create functions (fallback clones only).
        schemas.clone_function_install()
        self._grant_runtime_role(verbosity)
        self.stdout.write(
            self.style.SUCCESS(
                f"All schemas are up to date ({len(existing)} agencies checked, {len(behind)} migrated)."
            )
        )

    def _grant_runtime_role(self, verbosity: int) -> None:
        role = settings.MUSTER_DB_RUNTIME_ROLE
        if not role:
            if settings.PRODUCTION:
                raise CommandError("MUSTER_DB_RUNTIME_ROLE is not set: web and worker need their own role.")
            return
        problems = db_roles.runtime_role_problems(role)
        if problems:
            raise CommandError(f"The runtime role is not safe: {'; '.join(problems)} (docs/operations.md).")
        covered = db_roles.runtime_grant(role)
        if verbosity >= 1:
            self.stdout.write(f"Runtime role {role}: data privileges on {len(covered)} schemas, audit log append-only.")


def _existing_schemas(names: list[str]) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s)", [names])
        found = {row[0] for row in cursor.fetchall()}
    return [name for name in names if name in found]
