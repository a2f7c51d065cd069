"""Public-schema aggregate snapshots: counts per agency and period. No identities, no row-level data."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class PeriodKind(models.TextChoices):
    WEEK = "week", "Week"
    MONTH = "month", "Month"
    QUARTER = "quarter", "Quarter"


class MetricSnapshot(models.Model):
    """One number: `metric` (broken down by `dimension`/`key`, both empty for a total) for one agency and
    period. Vocabulary breakdowns are keyed by concept, so they add up across standard versions."""

    # Additive counts are stored per agency and summed for a region or the network. Medians do not add
    # up, so they are also stored for each region (agency empty) and the network (both empty).
    agency = models.ForeignKey("agencies.Agency", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    region = models.ForeignKey("network.Region", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    period_kind = models.CharField(max_length=8, choices=PeriodKind.choices)
    period_start = models.DateField()
    metric = models.CharField(max_length=40)
    dimension = models.CharField(max_length=40, blank=True)
    key = models.CharField(max_length=64, blank=True)
    value = models.FloatField()
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "region", "period_kind", "period_start", "metric", "dimension", "key"],
                name="snapshot_one_value_per_cell",
                nulls_distinct=False,
            ),
        ]
        indexes = [models.Index(fields=["period_kind", "metric", "period_start"])]

    def __str__(self) -> str:
        return f"{self.metric} {self.period_kind} {self.period_start}"


class SnapshotRun(models.Model):
    """One build of the snapshots, with its progress; the dashboard shows it while it runs."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        DONE_WITH_FAILURES = "partial", "Done, some agencies failed"
        FAILED = "failed", "Failed"

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    full = models.BooleanField(default=False, help_text="Recompute every period, not only the recent ones.")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    agencies_total = models.PositiveIntegerField(default=0)
    agencies_done = models.PositiveIntegerField(default=0)
    # How many times a worker started it: more than one means it was redelivered (a worker died mid-run).
    attempts = models.PositiveIntegerField(default=0)
    # [{"agency": id, "error": "ExceptionClass"}]: never messages, which could carry data.
    failures = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Snapshot run {self.pk} ({self.status})"

    @property
    def progress(self) -> int:
        return int(100 * self.agencies_done / self.agencies_total) if self.agencies_total else 0

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.DONE_WITH_FAILURES, self.Status.FAILED)


class AgencySnapshotState(models.Model):
    """How current one agency's snapshots are. Every saved encounter counts a change; a refresh records
    the count it built from. The snapshots are stale while `changes` is ahead of `built`."""

    agency = models.OneToOneField("agencies.Agency", on_delete=models.CASCADE, primary_key=True, related_name="+")
    changes = models.PositiveBigIntegerField(default=0)
    built = models.PositiveBigIntegerField(default=0)
    changed_at = models.DateTimeField(null=True, blank=True)
    refreshed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Snapshots of agency {self.agency_id} ({'stale' if self.is_stale else 'current'})"

    @property
    def is_stale(self) -> bool:
        return self.changes > self.built


class Publication(models.Model):
    """One published period of a network's leadership figures. Published once, a set number of days after
    the period ends (the network policy's `publication_delay_days`), and never changed afterwards.
    Months carry the figures of agencies published by month; quarters carry those of agencies published
    by quarter and every regional and network figure (docs/reporting.md, "Publication")."""

    network = models.ForeignKey("network.Network", on_delete=models.PROTECT, related_name="+")
    period_kind = models.CharField(max_length=8, choices=PeriodKind.choices)
    period_start = models.DateField()
    period_end = models.DateField(help_text="The last day of the period.")
    published_at = models.DateTimeField(default=timezone.now)
    # The policy's threshold when it was published: the figures were suppressed with it, whatever it is now.
    threshold = models.PositiveSmallIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["network", "period_kind", "period_start"], name="publication_once_per_period"
            ),
        ]
        ordering = ["period_start", "period_kind"]

    def __str__(self) -> str:
        return f"{self.period_kind} {self.period_start}"


class PublishedFigure(models.Model):
    """One published number, frozen: an agency's, a region's, or (both empty) the network's. `value` is
    NULL when the figure is suppressed. Append-only: a database trigger refuses UPDATE and DELETE."""

    publication = models.ForeignKey(Publication, on_delete=models.PROTECT, related_name="figures")
    agency = models.ForeignKey("agencies.Agency", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    region = models.ForeignKey("network.Region", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    table = models.CharField(max_length=40)
    key = models.CharField(max_length=64)
    # The row's label as it read when published, so a later renamed term never changes a published row.
    label = models.CharField(max_length=120)
    value = models.IntegerField(null=True, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["publication", "agency", "region", "table", "key"],
                name="published_figure_once",
                nulls_distinct=False,
            ),
        ]
        indexes = [models.Index(fields=["agency", "publication"]), models.Index(fields=["region", "publication"])]

    def __str__(self) -> str:
        return f"{self.table}/{self.key}"


class AgencyReportingGranularity(models.Model):
    """Whether an agency's figures are published by month or by quarter in one calendar year: decided once,
    at the agency's first publication of that year, from its roster then, and never both."""

    agency = models.ForeignKey("agencies.Agency", on_delete=models.PROTECT, related_name="+")
    year = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=8, choices=[(PeriodKind.MONTH, "Month"), (PeriodKind.QUARTER, "Quarter")])
    decided_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["agency", "year"], name="granularity_once_per_agency_year")]

    def __str__(self) -> str:
        return f"{self.agency_id} {self.year}: {self.kind}"
