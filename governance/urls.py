"""Governance URLs: `network_patterns` mount under /network/, `agency_patterns` under /a/<agency_slug>/."""

from django.urls import path

from governance import views

agreement = "agreements/<uuid:agreement_uuid>/"

network_patterns = [
    path("agreements/", views.agreement_list, name="network_agreements"),
    path("agreements/new/", views.agreement_create, name="network_agreement_create"),
    path(agreement, views.agreement_detail, name="network_agreement"),
    path(agreement + "decide/", views.agreement_decide, name="network_agreement_decide"),
    path(agreement + "document/", views.agreement_document, name="network_agreement_document"),
    path("protocols/", views.protocol_list, name="network_protocols"),
    path("protocols/<slug:incident_type>/", views.protocol_edit, name="network_protocol_edit"),
    path("directory/", views.resource_list, name="network_resources"),
    path("directory/new/", views.resource_create, name="network_resource_create"),
    path("directory/import/", views.resource_import, name="network_resource_import"),
    path("directory/directory.csv", views.resource_csv, name="network_resources_csv"),
    path("directory/<uuid:entry_uuid>/", views.resource_edit, name="network_resource"),
    path("directory/<uuid:entry_uuid>/confirm/", views.resource_confirm, name="network_resource_confirm"),
]

agency_patterns = [
    path("agreements/", views.agency_agreement_list, name="agency_agreements"),
    path("agreements/new/", views.agency_agreement_propose, name="agency_agreement_propose"),
    path(agreement + "document/", views.agency_agreement_document, name="agency_agreement_document"),
]
