"""A PostgreSQL outage answers a plain 503 page with Retry-After: no stack trace, even with DEBUG on.

Django turns an exception raised in a middleware into a 500 response at that middleware's layer,
so an outer middleware never sees it. The `got_request_exception` signal does fire for every
uncaught exception, wherever it was raised: it flags the request, and this middleware, above every
middleware that can touch the database, replaces whatever response came back with the 503 page.
Views' own database errors are caught directly in `process_exception`. Nothing here touches the
database: the page is rendered without a request context. Recovery needs nothing either: Django
opens a new connection on the next request (CONN_HEALTH_CHECKS drops a persistent connection that
died with the server).
"""

from __future__ import annotations

import logging
import sys

from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError
from django.dispatch import receiver
from django.http import HttpResponse
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)

DATABASE_ERRORS = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 30
_FLAG = "_muster_database_unavailable"


def database_unavailable_response() -> HttpResponse:
    response = HttpResponse(render_to_string("503.html"), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


@receiver(got_request_exception, dispatch_uid="muster_database_unavailable")
def _flag_database_errors(sender, request=None, **kwargs) -> None:
    error = sys.exc_info()[1]
    if request is not None and isinstance(error, DATABASE_ERRORS):
        setattr(request, _FLAG, type(error).__name__)


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        error = getattr(request, _FLAG, None)
        if error is not None:
            logger.warning("database unavailable (%s): answered 503 for %s", error, request.method)
            return database_unavailable_response()
        return response

    def process_exception(self, request, exception):
        if isinstance(exception, DATABASE_ERRORS):
            setattr(request, _FLAG, type(exception).__name__)
            return database_unavailable_response()
        return None
