"""The composed home pages: `public_patterns` at the root, `network_patterns` under /network/,
`agency_patterns` under /a/<agency_slug>/."""

from django.urls import path

from portal import views

public_patterns = [
    path("", views.landing, name="landing"),
    path("home/", views.home, name="home"),
]

network_patterns = [
    path("", views.network_home, name="network_home"),
]

agency_patterns = [
    path("", views.agency_home, name="agency_home"),
]
