"""Migrate everything in the right order: public schema, the agency template, then every agency."""

from django.core.management import call_command
from django.core.management.base import BaseCommand

from agencies import schemas


class Command(BaseCommand):
    help = "Migrate the public schema, the agency template schema and every agency schema."

    def add_arguments(self, parser):
        parser.add_argument("--executor", default="standard", choices=["standard", "multiprocessing"])

    def handle(self, *args, **options):
        verbosity = options["verbosity"]
        call_command("migrate_schemas", shared=True, interactive=False, verbosity=verbosity)
        # The template first: agencies created from now on are cloned from it.
        schemas.template_schema_migrate(verbosity=verbosity)
        call_command(
            "migrate_schemas", tenant=True, interactive=False, verbosity=verbosity, executor=options["executor"]
        )
        self.stdout.write(self.style.SUCCESS("All schemas are up to date."))
