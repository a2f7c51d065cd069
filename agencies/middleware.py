"""Path routing: `/a/<slug>/...` runs in that agency's schema; everything else runs in public.

We route by path ourselves instead of django-tenants' TenantSubfolderMiddleware; see
docs/decisions.md ("Path routing") for why.
"""

from django.db import connection
from django.http import Http404
from django_tenants.utils import get_public_schema_name

from agencies.models import SLUG_PATTERN, Agency, schema_name_for_slug

AGENCY_PREFIX = "/a/"


def _public_schema() -> None:
    """Back to public, without forgetting the search path already sent when the connection is there: a
    run of public pages on one connection sends `SET search_path` once, not once per request."""
    if connection.schema_name != get_public_schema_name():
        connection.set_schema_to_public()


class AgencyRoutingMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        _public_schema()
        request.tenant = None
        if request.path_info.startswith(AGENCY_PREFIX):
            slug = request.path_info[len(AGENCY_PREFIX) :].split("/", 1)[0]
            # Only something shaped like an agency address reaches the database: a NUL byte or other
            # junk in the path is a 404 here, not a database error.
            agency = self._active_agency(slug) if SLUG_PATTERN.fullmatch(slug) else None
            if agency is None:
                _public_schema()
                raise Http404("No such agency.")
            request.tenant = agency
        try:
            return self.get_response(request)
        finally:
            _public_schema()

    @staticmethod
    def _active_agency(slug: str) -> Agency | None:
        """The active agency at `slug`, with the connection left in its schema.

        The lookup runs under the search path of the schema the slug names (`agency_<slug>`, then public):
        agencies and regions are public tables, which no agency schema has, so the lookup reads the same
        rows it would under public, and the one `SET search_path` the request needs is already sent. An
        agency whose schema is named otherwise (none today) costs one more `SET`."""
        connection.set_schema(schema_name_for_slug(slug))
        agency = (
            Agency.objects.filter(slug=slug, status=Agency.Status.ACTIVE)
            # What agency pages ask of their agency, in the same statement (network.selectors.policy_for
            # uses the policy read here).
            .select_related("region", "network__policy")
            .first()
        )
        if agency is None:
            return None
        path_sent = connection.search_path_set_schemas
        connection.set_tenant(agency)
        if agency.schema_name == schema_name_for_slug(slug):
            connection.search_path_set_schemas = path_sent  # django-tenants' record of the path sent
        return agency
