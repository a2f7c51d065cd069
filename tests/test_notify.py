"""Every e-mail goes through `network.notify.notify`: rendered from templates/email/, sent only after the
change it reports commits, never from anywhere else."""

from __future__ import annotations

import ast
import datetime
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from agencies import services as agency_services
from agencies.models import Invitation, Role
from network.notify import notify, render_email
from tests.support import ROOT, app_modules

pytestmark = pytest.mark.django_db

THE_SENDER = Path("network/notify.py")
TEMPLATES = ROOT / "templates" / "email"


def mail_imports(source: str) -> list[int]:
    """Lines of `source` that import Django's mail sending (however it is spelled)."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("django.core.mail"):
            lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module == "django.core":
            lines += [node.lineno for alias in node.names if alias.name == "mail"]
        elif isinstance(node, ast.Import):
            lines += [node.lineno for alias in node.names if alias.name.startswith("django.core.mail")]
    return lines


def test_the_mail_import_detector_finds_every_spelling():
    assert mail_imports("from django.core.mail import send_mail") == [1]
    assert mail_imports("import os\nfrom django.core import mail") == [2]
    assert mail_imports("import django.core.mail as m") == [1]
    assert mail_imports("from django.core.mail.message import EmailMessage") == [1]
    assert mail_imports("from django.core import signing") == []


def test_no_module_sends_mail_except_network_notify():
    offenders = {
        path for path in app_modules() if path != THE_SENDER and mail_imports((ROOT / path).read_text("utf-8"))
    }
    assert offenders == set(), "send e-mail with network.notify.notify(to, template, context)"


def test_a_mail_is_sent_only_after_the_commit_and_not_at_all_after_a_rollback(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            notify("kept-out@test.example", "roster_reminder", {"agency_name": "Alpha Fire", "link": "/x/"})
            raise RuntimeError("the change fails after the mail was asked for")
        with transaction.atomic():
            notify("kept-in@test.example", "roster_reminder", {"agency_name": "Alpha Fire", "link": "/x/"})
            assert mail.outbox == []  # not before the commit
    assert [m.to for m in mail.outbox] == [["kept-in@test.example"]]


def test_a_service_that_rolls_back_after_its_notice_sends_nothing(world, django_capture_on_commit_callbacks):
    email = f"never-{uuid.uuid4().hex[:8]}@test.example"
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            agency_services.invitation_create(
                actor=world.a[Role.AGENCY_ADMIN], agency=world.agency_a, email=email, role=Role.PEER_SUPPORTER
            )
            raise RuntimeError("a later step of the same change fails")
    assert mail.outbox == []
    assert not Invitation.objects.filter(email=email).exists()


def test_one_message_goes_to_every_recipient_and_none_to_nobody(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        notify([], "roster_reminder", {"agency_name": "Alpha Fire", "link": "/x/"})
        notify(["a@test.example", "b@test.example"], "roster_reminder", {"agency_name": "Alpha Fire", "link": "/x/"})
    assert [m.to for m in mail.outbox] == [["a@test.example", "b@test.example"]]


def test_text_is_not_html_escaped_and_a_template_without_a_subject_line_is_refused(settings, tmp_path):
    subject, body = render_email("roster_reminder", {"agency_name": "O'Brien & Sons Fire", "link": "/x/?a=1&b=2"})
    assert "O'Brien & Sons Fire" in body and "/x/?a=1&b=2" in body and "&amp;" not in body
    assert subject == "Muster: confirm your peer team roster for this quarter"
    (tmp_path / "email").mkdir()
    (tmp_path / "email" / "broken.txt").write_text("A subject\nand the body glued to it\n")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path, *settings.TEMPLATES[0]["DIRS"]]}]
    with pytest.raises(ValueError, match="one-line subject and a blank line"):
        render_email("broken", {})


# --- One test per template: it renders, with the link (or the way) the reader needs ---------------------------


def _invitation(world):
    context = {
        "invitation": Invitation(
            email="new@test.example", agency=world.agency_a, role=Role.PEER_SUPPORTER, invited_by=world.state_admin
        ),
        "link": settings.MUSTER_BASE_URL + reverse("invitation_accept", kwargs={"token": "t0ken"}),
        "days": 7,
    }
    return context, f"{settings.MUSTER_BASE_URL}/invite/t0ken/", "You are invited to Alpha Fire's peer support team"


def _password_reset(world):
    context = {"base_url": settings.MUSTER_BASE_URL, "uid": "MQ", "token": "abc-123"}
    return context, f"{settings.MUSTER_BASE_URL}/password-reset/MQ/abc-123/", "Choose a new Muster password"


def _role_granted(world):
    link = settings.MUSTER_BASE_URL + reverse("network_audit") + "?object_id=42"
    context = {"agency_name": "Alpha Fire", "role": "Clinician", "membership_id": 42, "link": link}
    return context, link, "Muster: Alpha Fire granted the role Clinician"


def _roster_reminder(world):
    link = settings.MUSTER_BASE_URL + reverse("agency_roster", kwargs={"agency_slug": world.agency_a.slug})
    return {"agency_name": "Alpha Fire", "link": link}, link, "Muster: confirm your peer team roster for this quarter"


def _follow_up_reminder(world):
    link = settings.MUSTER_BASE_URL + reverse("followup_list", kwargs={"agency_slug": world.agency_a.slug})
    context = {"due": datetime.date(2026, 3, 6), "agency_name": "Alpha Fire", "link": link}
    return context, link, "Peer support follow-up due 2026-03-06"


def _follow_up_overdue(world):
    link = settings.MUSTER_BASE_URL + reverse("followup_list", kwargs={"agency_slug": world.agency_a.slug})
    overdue = [
        {"due": datetime.date(2026, 3, 1), "owner": "Peer Supporter A", "activation": False},
        {"due": datetime.date(2026, 3, 2), "owner": "Peer Supporter A", "activation": True},
    ]
    context = {"overdue": overdue, "agency_name": "Alpha Fire", "link": link}
    return context, link, "2 overdue peer support follow-up(s) at Alpha Fire"


def _agreement_expiring(world):
    context = {"title": "Mutual aid", "days": 30, "expires_on": datetime.date(2026, 4, 1)}
    # No link: the notice tells the admins where the renewal is recorded.
    return context, "under Network > Agreements", "Muster: the agreement “Mutual aid” expires in 30 days"


def _callout(world):
    link = settings.MUSTER_BASE_URL + reverse("activation_mine", kwargs={"activation_uuid": uuid.uuid4()})
    context = {"incident_type": "Mass casualty incident", "occurred_at": timezone.now(), "link": link}
    return context, link, "Peer support callout: Mass casualty incident"


def _member_request_assigned(world):
    link = settings.MUSTER_BASE_URL + reverse(
        "member_request_detail", kwargs={"agency_slug": world.agency_a.slug, "request_uuid": uuid.uuid4()}
    )
    return {"agency": world.agency_a, "urgent": True, "link": link}, link, "URGENT: A member's request for a peer"


def _member_request_late(world):
    link = settings.MUSTER_BASE_URL + reverse("member_request_queue", kwargs={"agency_slug": world.agency_a.slug})
    context = {"agency": world.agency_a, "urgent": False, "link": link}
    return context, link, f"A member's request at {world.agency_a.name} is past its first-contact target"


def _checkin(world):
    link = settings.MUSTER_BASE_URL + reverse("checkin_answer", kwargs={"checkin_token": "signed-token"})
    return {"link": link}, link, "Checking in: how are you doing?"


def _checkin_alert(world):
    link = settings.MUSTER_BASE_URL + reverse("followup_list", kwargs={"agency_slug": world.agency_a.slug})
    return {"agency": world.agency_a, "urgent": False, "link": link}, link, "A member would like a call"


def _deployment_check_in_overdue(world):
    link = settings.MUSTER_BASE_URL + reverse("activation_board", kwargs={"activation_uuid": uuid.uuid4()})
    context = {"count": 2, "location": "North station", "link": link}
    return context, link, "Deployment: 2 check-ins overdue at North station"


def _deployment_request(world):
    link = settings.MUSTER_BASE_URL + reverse("agency_deployment_requests", kwargs={"agency_slug": world.agency_b.slug})
    context = {
        "lead": "Alpha Fire",
        "operational_name": "Route 9 bus crash",
        "starts_on": datetime.date(2026, 3, 6),
        "ends_on": datetime.date(2026, 3, 8),
        "location": "Station 3",
        "wanted": 4,
        "link": link,
    }
    return context, link, "Deployment request: Alpha Fire asks for 4 peer supporters"


def _deployment_news(world):
    link = settings.MUSTER_BASE_URL + reverse(
        "deployment_detail", kwargs={"activation_uuid": uuid.uuid4(), "deployment_uuid": uuid.uuid4()}
    )
    context = {
        "what": "offered",
        "agency": "Bravo Police",
        "count": 2,
        "operational_name": "Route 9 bus crash",
        "starts_on": datetime.date(2026, 3, 6),
        "link": link,
    }
    return context, link, "Deployment: Bravo Police offered 2 supporters"


def _deployment_confirm(world):
    link = settings.MUSTER_BASE_URL + reverse(
        "deployment_confirm", kwargs={"activation_uuid": uuid.uuid4(), "deployment_uuid": uuid.uuid4()}
    )
    context = {
        "lead": "Alpha Fire",
        "operational_name": "Route 9 bus crash",
        "starts_on": datetime.date(2026, 3, 6),
        "ends_on": datetime.date(2026, 3, 8),
        "location": "Station 3",
        "link": link,
    }
    return context, link, "Please confirm your deployment with Alpha Fire"


SAMPLES = {
    "deployment_check_in_overdue": _deployment_check_in_overdue,
    "deployment_request": _deployment_request,
    "deployment_news": _deployment_news,
    "deployment_confirm": _deployment_confirm,
    "member_request_assigned": _member_request_assigned,
    "member_request_late": _member_request_late,
    "checkin": _checkin,
    "checkin_alert": _checkin_alert,
    "invitation": _invitation,
    "password_reset": _password_reset,
    "role_granted": _role_granted,
    "roster_reminder": _roster_reminder,
    "follow_up_reminder": _follow_up_reminder,
    "follow_up_overdue": _follow_up_overdue,
    "agreement_expiring": _agreement_expiring,
    "callout": _callout,
}


def test_every_email_template_has_its_rendering_test():
    assert {path.stem for path in TEMPLATES.glob("*.txt")} == set(SAMPLES)


@pytest.mark.parametrize("template", sorted(SAMPLES))
def test_the_email_renders_with_the_link_it_needs(world, template, django_capture_on_commit_callbacks):
    context, link, subject = SAMPLES[template](world)
    with django_capture_on_commit_callbacks(execute=True):
        notify("reader@test.example", template, context)
    (message,) = mail.outbox
    assert message.subject.startswith(subject) and "\n" not in message.subject
    assert link in message.body
    assert "{{" not in message.body and "{%" not in message.body and not message.body.startswith("\n")


def test_the_overdue_notice_lists_each_follow_up_with_its_kind_and_owner(world):
    context, _link, _subject = _follow_up_overdue(world)
    _subject, body = render_email("follow_up_overdue", context)
    assert body.startswith(
        "These follow-ups are past due:\n"
        "- due 2026-03-01, owner Peer Supporter A\n"
        "- due 2026-03-02 (activation), owner Peer Supporter A\n"
        "\nReassign or check in with the owners:\n"
    )


def test_the_follow_up_reminder_names_the_day_and_nothing_about_the_member(world):
    context, link, _subject = _follow_up_reminder(world)
    _subject, body = render_email("follow_up_reminder", context)
    assert body == f"You have a peer support follow-up due on Friday 06 March at Alpha Fire.\n\n{link}\n"
