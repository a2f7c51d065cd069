"""Forms of the deployment request, the agency's offer, the requester's decision and the supporter's answer."""

from __future__ import annotations

import datetime

from django import forms
from django.utils import timezone

from activations.deploy_requests import MAX_DAYS, MAX_WANTED
from agencies.models import Discipline
from network.forms import SingleLineField, TileChoices


class DeploymentRequestForm(TileChoices, forms.Form):
    supporters_wanted = forms.IntegerField(
        label="Supporters wanted", min_value=1, max_value=MAX_WANTED, help_text="How many peer supporters on site."
    )
    starts_on = forms.DateField(label="First day", widget=forms.DateInput(attrs={"type": "date"}))
    ends_on = forms.DateField(
        label="Last day",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=f"At most {MAX_DAYS} days in all.",
    )
    reporting_location = SingleLineField(
        label="Reporting location",
        max_length=200,
        help_text="Where deployed supporters report, e.g. a station or a family assistance centre. No names.",
    )
    disciplines = forms.MultipleChoiceField(
        label="Disciplines served (optional)",
        choices=Discipline.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Only supporters who serve one of these.",
    )
    languages = SingleLineField(
        label="Languages (optional, comma-separated)",
        max_length=200,
        required=False,
        help_text="Only supporters who speak one of these.",
    )
    cism_trained = forms.BooleanField(label="Only supporters with current CISM training", required=False)

    def __init__(self, *args, **kwargs):
        today = timezone.localdate()
        initial = kwargs.setdefault("initial", {})
        initial.setdefault("starts_on", today)
        initial.setdefault("ends_on", today + datetime.timedelta(days=2))
        super().__init__(*args, **kwargs)
        self.style_choice_widgets()

    def clean_languages(self) -> list[str]:
        return [part.strip() for part in self.cleaned_data["languages"].split(",") if part.strip()]


class OfferForm(forms.Form):
    """The ready supporters ticked for one deployment; `eligible`: membership id -> membership."""

    deployment = forms.UUIDField(widget=forms.HiddenInput)
    supporters = forms.MultipleChoiceField(
        choices=(),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Tick at least one supporter to offer.", "invalid_choice": "Tick a supporter."},
    )

    def __init__(self, *args, eligible: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self.eligible = eligible
        self.fields["supporters"].choices = [(str(pk), str(pk)) for pk in eligible]

    def clean_supporters(self) -> list:
        return [self.eligible[int(value)] for value in self.cleaned_data["supporters"]]


class DecideForm(forms.Form):
    offer = forms.IntegerField(min_value=1, max_value=2**31 - 1)
    decision = forms.ChoiceField(choices=[("accept", "Accept"), ("decline", "Decline")])


class AnswerForm(forms.Form):
    going = forms.ChoiceField(choices=[("yes", "I'll go"), ("no", "I can't go")])
