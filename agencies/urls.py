"""Agency pages, mounted under /a/<agency_slug>/. Every view here uses agencies.access.agency_view."""

from django.urls import include, path

from activations import views as activation_views
from agencies import views

urlpatterns = [
    path("", views.agency_home, name="agency_home"),
    path("members/", views.member_list, name="agency_members"),
    path("members/<int:membership_id>/role/", views.member_set_role, name="agency_member_set_role"),
    path("members/<int:membership_id>/deactivate/", views.member_deactivate, name="agency_member_deactivate"),
    path("activations/new/", activation_views.activation_open_for_agency, name="agency_activation_open"),
    path("", include("encounters.urls")),
]
