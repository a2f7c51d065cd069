"""Agency pages, mounted under /a/<agency_slug>/ (agencies.middleware routes them into the agency's
schema). Each app exports its own patterns; this URLconf only includes them."""

from django.urls import include, path

from activations import urls as activation_urls
from agencies import urls as agency_urls
from governance import urls as governance_urls
from members import urls as member_urls
from portal import urls as portal_urls
from reporting import urls as reporting_urls

urlpatterns = [
    *portal_urls.agency_patterns,
    *agency_urls.agency_patterns,
    *activation_urls.agency_patterns,
    *reporting_urls.agency_patterns,
    *governance_urls.agency_patterns,
    *member_urls.agency_patterns,
    path("", include("encounters.urls")),
]
