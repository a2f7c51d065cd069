"""Build the reporting snapshots now, in this process (or queue them with --queue)."""

from django.core.management.base import BaseCommand

from reporting import services


class Command(BaseCommand):
    help = "Build the aggregate reporting snapshots for every agency."

    def add_arguments(self, parser):
        parser.add_argument("--full", action="store_true", help="recompute two years, not only recent periods")
        parser.add_argument("--queue", action="store_true", help="hand the run to a Celery worker instead")

    def handle(self, *args, **options):
        run = services.run_request(full=options["full"], enqueue=options["queue"])
        if options["queue"]:
            self.stdout.write(f"Snapshot run {run.pk} queued.")
            return
        run = services.run_execute(run_id=run.pk)
        self.stdout.write(
            f"Snapshot run {run.pk}: {run.get_status_display()}, {run.agencies_done} agencies"
            + (f", failed: {run.failures}" if run.failures else "")
        )
