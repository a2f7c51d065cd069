"""The one way Muster sends an e-mail: `notify(to, template, context)`.

Every mail is a template under `templates/email/`: its first line is the subject, then a blank line,
then the body (`{# ... #}` comments and leading blank lines are dropped). It is rendered as plain
text (no HTML escaping: an agency called "O'Brien Fire" stays so), at the call, and handed to
Django's mail backend after the current transaction commits (at once outside a transaction). A
rolled-back change therefore sends nothing, and a mail server that fails only logs the failure:
the change stays committed and the other mails of the same commit still go (`robust`).

Mails carry codes, dates, agency names and a link to the page that says more, never a member's name,
notes or contact details: the link leads to a page that checks who is looking.
`tests/test_notify.py` fails on a `send_mail` outside this module and on a template without a test.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.mail import send_mail
from django.db import transaction
from django.template import Context
from django.template.loader import get_template

TEMPLATE_DIR = "email"


def notify(to: str | Iterable[str], template: str, context: dict[str, Any] | None = None) -> None:
    """E-mail `templates/email/<template>.txt`, rendered with `context`, to `to` (one address or many,
    one message to them all) once the current transaction commits. No recipients: nothing is sent."""
    recipients = [to] if isinstance(to, str) else list(to)
    if not recipients:
        return
    subject, body = render_email(template, context or {})
    transaction.on_commit(lambda: send_mail(subject, body, None, recipients), robust=True)


def render_email(template: str, context: dict[str, Any]) -> tuple[str, str]:
    """The subject and body of `templates/email/<template>.txt` rendered with `context`."""
    compiled = get_template(f"{TEMPLATE_DIR}/{template}.txt").template  # the engine's Template, for autoescape
    text = compiled.render(Context(context, autoescape=False)).lstrip()
    subject, _newline, body = text.partition("\n")
    subject = subject.strip()
    if not subject or (body and body.strip() and not body.startswith("\n")):
        raise ValueError(f"email/{template}.txt must start with a one-line subject and a blank line")
    return subject, body[1:]
