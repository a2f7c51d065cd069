"""Agency pages: onboarding and offboarding (`network_patterns`, under /network/), invitations
(`public_patterns`) and member management (`agency_patterns`, under /a/<agency_slug>/, each view
through agencies.access.agency_view). config/urls.py and config/agency_urls.py include them."""

from django.urls import path

from agencies import offboarding_views, views
from agencies.roster import views as roster_views

public_patterns = [
    path("invite/<str:token>/", views.invitation_accept, name="invitation_accept"),
]

network_patterns = [
    path("agencies/new/", views.agency_create, name="network_agency_create"),
    path("agencies/<int:agency_id>/", views.agency_detail, name="network_agency_detail"),
    path("agencies/<int:agency_id>/progress/", views.agency_progress, name="network_agency_progress"),
    path("agencies/<int:agency_id>/retry/", views.agency_retry, name="network_agency_retry"),
    path(
        "agencies/<int:agency_id>/offboarding/", offboarding_views.agency_offboarding, name="network_agency_offboarding"
    ),
    path(
        "agencies/<int:agency_id>/exports/<int:export_id>/",
        offboarding_views.agency_export_progress,
        name="network_agency_export",
    ),
    path(
        "agencies/<int:agency_id>/exports/<int:export_id>/download/",
        offboarding_views.agency_export_download,
        name="network_agency_export_download",
    ),
]

agency_patterns = [
    path("members/", views.member_list, name="agency_members"),
    path("members/<int:membership_id>/role/", views.member_set_role, name="agency_member_set_role"),
    path("members/<int:membership_id>/deactivate/", views.member_deactivate, name="agency_member_deactivate"),
    path("roster/", roster_views.roster_list, name="agency_roster"),
    path("roster/<int:membership_id>/", roster_views.roster_member, name="agency_roster_member"),
    path("roster/import/", roster_views.roster_import_view, name="agency_roster_import"),
    path("roster/confirm/", roster_views.roster_confirm, name="agency_roster_confirm"),
    path("directory/", roster_views.directory, name="agency_directory"),
    path("audit/", views.agency_audit, name="agency_audit"),
]
