"""Aggregate reporting: Celery builds public metric snapshots from every agency; dashboards read only those."""
