"""Agency pages, mounted under /a/<agency_slug>/. Every view here uses agencies.access.agency_view."""

from django.urls import include, path

from activations import views as activation_views
from agencies import views
from agencies.roster import views as roster_views
from governance import urls as governance_urls
from network import views_audit
from reporting import views as reporting_views

urlpatterns = [
    path("", views.agency_home, name="agency_home"),
    path("members/", views.member_list, name="agency_members"),
    path("members/<int:membership_id>/role/", views.member_set_role, name="agency_member_set_role"),
    path("members/<int:membership_id>/deactivate/", views.member_deactivate, name="agency_member_deactivate"),
    path("activations/new/", activation_views.activation_open_for_agency, name="agency_activation_open"),
    path("roster/", roster_views.roster_list, name="agency_roster"),
    path("roster/<int:membership_id>/", roster_views.roster_member, name="agency_roster_member"),
    path("roster/import/", roster_views.roster_import_view, name="agency_roster_import"),
    path("roster/confirm/", roster_views.roster_confirm, name="agency_roster_confirm"),
    path("directory/", roster_views.directory, name="agency_directory"),
    path("dashboard/", reporting_views.agency_dashboard, name="agency_dashboard"),
    path("dashboard/export.csv", reporting_views.agency_dashboard_csv, name="agency_dashboard_csv"),
    path("audit/", views_audit.agency_audit, name="agency_audit"),
    *governance_urls.agency_patterns,
    path("", include("encounters.urls")),
]
