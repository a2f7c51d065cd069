"""Members' requests: the public request page at the root, agency pages under /a/<slug>/, the region's queue
under /network/."""

from django.urls import path

from members import views

public_patterns = [
    path("r/<str:request_token>/", views.member_request_form, name="member_request_form"),
]

agency_patterns = [
    path("requests/", views.member_request_queue, name="member_request_queue"),
    path("requests/mine/", views.member_requests_mine, name="member_requests_mine"),
    path("requests/poster/", views.member_request_poster, name="member_request_poster"),
    path("requests/poster/rotate/", views.member_request_rotate, name="member_request_rotate"),
    path("requests/<uuid:request_uuid>/", views.member_request_detail, name="member_request_detail"),
    path("requests/<uuid:request_uuid>/close/", views.member_request_close, name="member_request_close"),
]

network_patterns = [
    path("requests/", views.network_member_requests, name="network_member_requests"),
    path("requests/<uuid:cross_request_uuid>/", views.network_member_request, name="network_member_request"),
    path(
        "requests/<uuid:cross_request_uuid>/close/",
        views.network_member_request_close,
        name="network_member_request_close",
    ),
]
