"""Session limits agencies' IT expects (CJIS-style): 30 minutes idle, 12 hours absolute."""

import time
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.signals import user_logged_in
from django.contrib.auth.views import redirect_to_login
from django.dispatch import receiver
from django.shortcuts import redirect
from django_htmx.http import HttpResponseClientRedirect


def lockout_username(request, credentials) -> str | None:
    """The account a sign-in attempt is counted against (django-axes): the e-mail, normalized."""
    value = (credentials or {}).get("username") or (request.POST.get("username") if request is not None else None)
    return value.strip().lower() if value else None


SIGNED_IN_AT = "muster_signed_in_at"
SEEN_AT = "muster_seen_at"
TOUCH_EVERY = 60  # seconds: write the session at most once a minute for activity
# Set by elements that refresh themselves on a timer (hx-headers on the activation board's live part and
# the progress bars): such requests are the page, not the person, and do not count as activity.
POLL_HEADER = "X-Muster-Poll"


def is_background_poll(request) -> bool:
    return bool(request.headers.get(POLL_HEADER)) and bool(request.headers.get("HX-Request"))


@receiver(user_logged_in, dispatch_uid="muster_session_limits_start")
def _start(sender, request, user, **kwargs) -> None:
    now = time.time()
    request.session[SIGNED_IN_AT] = now
    request.session[SEEN_AT] = now


class SessionLimitsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = time.time()
            signed_in = request.session.get(SIGNED_IN_AT, now)
            seen = request.session.get(SEEN_AT, now)
            if now - signed_in > settings.MUSTER_SESSION_ABSOLUTE_SECONDS:
                return self._end(request, "Signed out after 12 hours. Please sign in again.")
            if now - seen > settings.MUSTER_SESSION_IDLE_SECONDS:
                return self._end(request, "Signed out after 30 minutes without activity. Please sign in again.")
            if is_background_poll(request):
                pass  # an unattended board still locks after 30 idle minutes
            elif now - seen > TOUCH_EVERY or SIGNED_IN_AT not in request.session:
                request.session[SEEN_AT] = now
                request.session.setdefault(SIGNED_IN_AT, now)
        return self.get_response(request)

    @staticmethod
    def _end(request, message: str):
        path = request.get_full_path()
        if request.headers.get("HX-Request"):
            # A fragment request (a poll, a filter): send the whole page to sign-in, come back to the page.
            current = urlsplit(request.headers.get("HX-Current-URL", ""))
            path = (current.path + (f"?{current.query}" if current.query else "")) if current.path else ""
        logout(request)
        messages.info(request, message)
        login = redirect_to_login(path) if path else redirect(settings.LOGIN_URL)
        if request.headers.get("HX-Request"):
            return HttpResponseClientRedirect(login["Location"])
        return login
