"""Leadership dashboards: `network_patterns` under /network/, `agency_patterns` under /a/<agency_slug>/."""

from django.urls import path

from reporting import views

network_patterns = [
    path("dashboard/", views.network_dashboard, name="network_dashboard"),
    path("dashboard/export.csv", views.network_dashboard_csv, name="network_dashboard_csv"),
    path("dashboard/rebuild/", views.snapshots_rebuild, name="network_snapshots_rebuild"),
    path("dashboard/runs/<int:run_id>/", views.snapshots_run_progress, name="network_snapshot_run"),
    path("directory/dead-ends/", views.directory_feedback, name="network_directory_feedback"),
]

agency_patterns = [
    path("dashboard/", views.agency_dashboard, name="agency_dashboard"),
    path("dashboard/export.csv", views.agency_dashboard_csv, name="agency_dashboard_csv"),
]
