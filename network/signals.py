"""Sign-in auditing: Django's auth signals are the one place every login path passes through."""

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from network.audit import AuditAction, audit_record
from network.models import AuditEvent
from network.services import user_sessions_end


@receiver(user_logged_in, dispatch_uid="muster_audit_sign_in")
def _audit_sign_in(sender, request, user, **kwargs) -> None:
    audit_record(action=AuditAction.SIGN_IN, actor=user, obj=user, request=request)


@receiver(user_logged_out, dispatch_uid="muster_audit_sign_out")
def _audit_sign_out(sender, request, user, **kwargs) -> None:
    if user is not None:
        audit_record(action=AuditAction.SIGN_OUT, actor=user, obj=user, request=request)
        # Signing out anywhere signs out everywhere (a shared station, a lost phone).

        user_sessions_end(user=user)


@receiver(user_login_failed, dispatch_uid="muster_audit_sign_in_failed")
def _audit_sign_in_failed(sender, credentials, request=None, **kwargs) -> None:
    # Record which account was targeted (by id, when it exists) but never the typed password.
    email = (credentials or {}).get("username") or (credentials or {}).get("email") or ""
    user = get_user_model().objects.filter(email__iexact=email).first() if email else None
    audit_record(
        action=AuditAction.SIGN_IN_FAILED,
        object_type="network.user",
        object_id=user.pk if user else "",
        outcome=AuditEvent.Outcome.FAILURE,
        request=request,
    )
