"""Encounter pages, under /a/<agency_slug>/. Every view uses agencies.access.agency_view."""

from django.urls import path

from encounters import views

# The check-in link in a member's e-mail, at the root: the token names the agency (encounters.selectors).
public_patterns = [
    path("c/<str:checkin_token>/", views.checkin_answer, name="checkin_answer"),
]

urlpatterns = [
    path("encounters/", views.encounter_list, name="encounter_list"),
    path("encounters/new/", views.encounter_new, name="encounter_new"),
    path("encounters/<uuid:encounter_uuid>/", views.encounter_detail, name="encounter_detail"),
    path("encounters/<uuid:encounter_uuid>/hold/", views.encounter_legal_hold, name="encounter_legal_hold"),
    path("encounters/<uuid:encounter_uuid>/disclosure/", views.disclosure_new, name="encounter_disclosure_new"),
    path("encounters/<uuid:encounter_uuid>/refer/", views.encounter_refer, name="encounter_refer"),
    path("referrals/<uuid:referral_uuid>/", views.referral_detail, name="referral_detail"),
    path("follow-ups/", views.followup_list, name="followup_list"),
    path("follow-ups/<uuid:follow_up_uuid>/complete/", views.followup_complete, name="followup_complete"),
    path("follow-ups/<uuid:follow_up_uuid>/reassign/", views.followup_reassign, name="followup_reassign"),
    path(
        "follow-ups/scheduled/<int:follow_up_id>/done/", views.followup_scheduled_done, name="followup_scheduled_done"
    ),
    path("disclosures/", views.disclosure_list, name="disclosure_list"),
    path("disclosures/<uuid:disclosure_uuid>/", views.disclosure_detail, name="disclosure_detail"),
]
