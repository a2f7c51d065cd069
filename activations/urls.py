"""Activation pages, under /activations/. Every view uses activations.access.activation_view
(or network.access.login_view)."""

from django.urls import path

from activations import deploy_hours_views, deploy_request_views, deploy_site_views, phone_views, views

one = "<uuid:activation_uuid>/"
member = one + "members/<uuid:target_uuid>/"
deployment = one + "deployments/<uuid:deployment_uuid>/"

# Opening an activation: from an agency (/a/<agency_slug>/activations/new/) or the network.
agency_patterns = [
    path("activations/new/", views.activation_open_for_agency, name="agency_activation_open"),
    # The agency's own people on deployments elsewhere (issue 19): where, when, hours; never whom they supported.
    path("deployments/people/", deploy_hours_views.agency_deployed_people, name="agency_deployed_people"),
    # A deployed supporter's own check, on their home agency's follow-ups page (issue 19).
    path(
        "follow-ups/wellbeing/<int:wellbeing_id>/done/",
        deploy_site_views.wellbeing_done,
        name="deployment_wellbeing_done",
    ),
    # Regional deployment (issue 19): the requests asked of this agency, and its offers.
    path("deployments/", deploy_request_views.agency_deployment_requests, name="agency_deployment_requests"),
]
network_patterns = [path("activations/new/", views.activation_open_for_network, name="network_activation_open")]

urlpatterns = [
    path("", views.activation_list, name="activation_list"),
    path(one, views.activation_home, name="activation_home"),
    path(one + "board/", views.activation_board, name="activation_board"),
    path(one + "board/live/", views.activation_board_live, name="activation_board_live"),
    path(one + "summary/", views.activation_summary, name="activation_summary"),
    path(one + "mine/", views.activation_mine, name="activation_mine"),
    path(one + "members/add/", views.members_add, name="activation_members_add"),
    path(one + "agencies/add/", views.agencies_add, name="activation_agencies_add"),
    path(member + "assign/", views.target_assign, name="activation_target_assign"),
    path(member + "supporter-request/", views.target_supporter_request, name="activation_target_supporter_request"),
    path(member + "duplicate/", views.target_duplicate, name="activation_target_duplicate"),
    path(member + "outreach/", views.target_outreach, name="activation_target_outreach"),
    path(member + "follow-ups/<int:follow_up_id>/done/", views.follow_up_done, name="activation_follow_up_done"),
    path(one + "checklist/<int:item_id>/done/", views.checklist_done, name="activation_checklist_done"),
    path(one + "actions/<slug:action>/", views.activation_action, name="activation_action"),
    # A deployment's hours, activity log and demobilisation (activations/deploy_hours.py).
    path(deployment + "hours/", deploy_hours_views.deployment_hours, name="deployment_hours"),
    path(deployment + "hours.csv", deploy_hours_views.deployment_hours_csv, name="deployment_hours_csv"),
    path(deployment + "ics214/", deploy_hours_views.deployment_ics214, name="deployment_ics214"),
    path(deployment + "demobilize/", deploy_hours_views.deployment_demobilize, name="deployment_demobilize"),
    # A deployment on site (issue 19): the rotation planner, check-in and check-out.
    path(deployment + "planner/", deploy_site_views.deployment_planner, name="deployment_planner"),
    path(deployment + "site/", deploy_site_views.deployment_site, name="deployment_site"),
    # Regional deployment (issue 19, activations/deploy_request_views.py).
    path(one + "deployments/new/", deploy_request_views.deployment_new, name="deployment_new"),
    path(deployment, deploy_request_views.deployment_detail, name="deployment_detail"),
    path(deployment + "confirm/", deploy_request_views.deployment_confirm, name="deployment_confirm"),
]

# The text and voice provider's webhooks, at /phone/ (each checks the provider's signature).
webhook_patterns = [
    path("phone/sms/", phone_views.phone_sms, name="phone_sms"),
    path("phone/voice/gather/", phone_views.phone_voice_gather, name="phone_voice_gather"),
    path("phone/status/", phone_views.phone_status, name="phone_status"),
]
# Development only: config/urls.py mounts it when MUSTER_ENV=development (and the view checks again).
dev_patterns = [path("dev/phone/", phone_views.dev_phone, name="dev_phone")]
