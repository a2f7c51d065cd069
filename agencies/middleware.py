"""Path routing: `/a/<slug>/...` runs in that agency's schema; everything else runs in public.

We route by path ourselves instead of django-tenants' TenantSubfolderMiddleware; see
docs/decisions.md ("Path routing") for why.
"""

from django.db import connection
from django.http import Http404

from agencies.models import SLUG_PATTERN, Agency

AGENCY_PREFIX = "/a/"


class AgencyRoutingMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        connection.set_schema_to_public()
        request.tenant = None
        if request.path_info.startswith(AGENCY_PREFIX):
            slug = request.path_info[len(AGENCY_PREFIX) :].split("/", 1)[0]
            # Only something shaped like an agency address reaches the database: a NUL byte or other
            # junk in the path is a 404 here, not a database error.
            agency = (
                Agency.objects.filter(slug=slug, status=Agency.Status.ACTIVE).select_related("region").first()
                if SLUG_PATTERN.fullmatch(slug)
                else None
            )
            if agency is None:
                raise Http404("No such agency.")
            connection.set_tenant(agency)
            request.tenant = agency
        try:
            return self.get_response(request)
        finally:
            connection.set_schema_to_public()
