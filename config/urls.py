"""URL routing: public pages at /, agency pages under /a/<agency_slug>/ (config/agency_urls.py, routed
into the agency's schema by agencies.middleware), activations under /activations/. Each app exports its
own patterns; this URLconf only includes them."""

from django.conf import settings
from django.urls import include, path

from activations import urls as activation_urls
from agencies import urls as agency_urls
from config.health import healthz
from encounters import urls as encounter_urls
from governance import urls as governance_urls
from members import urls as member_urls
from network import urls as network_urls
from portal import urls as portal_urls
from reporting import urls as reporting_urls

network_patterns = [
    *portal_urls.network_patterns,
    *reporting_urls.network_patterns,
    *activation_urls.network_patterns,
    *agency_urls.network_patterns,
    *network_urls.network_patterns,
    *governance_urls.network_patterns,
    *member_urls.network_patterns,
]

urlpatterns = [
    *portal_urls.public_patterns,
    path("healthz", healthz, name="healthz"),
    *agency_urls.public_patterns,
    *member_urls.public_patterns,
    *encounter_urls.public_patterns,
    path("network/", include(network_patterns)),
    path("a/<slug:agency_slug>/", include("config.agency_urls")),
    path("activations/", include(activation_urls.urlpatterns)),
    *network_urls.auth_patterns,
    *activation_urls.webhook_patterns,
]
if settings.MUSTER_ENV == "development":
    urlpatterns += activation_urls.dev_patterns
