"""How a service's ValidationError reaches the person who caused it: one way for every view.

Services raise `ValidationError` (with a `code`) for a request they refuse; views never build the
message themselves. On a page with a form the error goes beside the field it names
(`add_service_errors`); after a button with no form of its own it becomes a message on the page the
view redirects to (`message_service_error`).
"""

from django import forms
from django.contrib import messages
from django.http import HttpRequest


def add_service_errors(form: forms.Form, error: forms.ValidationError) -> None:
    """Show a service's ValidationError on the form, beside the field it names when there is one."""
    if hasattr(error, "error_dict"):
        for field, errors in error.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error.messages)


def message_service_error(request: HttpRequest, error: forms.ValidationError) -> None:
    """Show a service's ValidationError as an error message on the next page rendered."""
    messages.error(request, " ".join(error.messages))
