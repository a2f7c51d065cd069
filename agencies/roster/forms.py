"""Roster forms: a supporter's profile, a certification, the CSV import."""

from django import forms
from django.utils import timezone

from agencies.models import CertificationKind, Discipline, SupporterProfile
from agencies.roster.imports import COLUMNS
from network.forms import SingleLineField


class ProfileForm(forms.Form):
    designated_on = forms.DateField(
        label="Designated as peer supporter on", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    availability = forms.ChoiceField(label="Availability", choices=SupporterProfile.Availability.choices)
    on_leave_until = forms.DateField(
        label="On leave until", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    languages = SingleLineField(label="Languages besides English (comma-separated)", required=False, max_length=200)
    disciplines = forms.MultipleChoiceField(
        label="Disciplines served",
        choices=Discipline.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "usa-checkbox__input usa-checkbox__input--tile"}),
        help_text="Leave all unticked for the agency's own discipline.",
    )

    def clean_languages(self):
        return [part.strip() for part in self.cleaned_data["languages"].split(",") if part.strip()][:10]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("availability") == SupporterProfile.Availability.ON_LEAVE and not cleaned.get("on_leave_until"):
            self.add_error("on_leave_until", "Give the date the leave ends.")
        if cleaned.get("designated_on") and cleaned["designated_on"] > timezone.localdate():
            self.add_error("designated_on", "The designation date cannot be in the future.")
        return cleaned


class CertificationForm(forms.Form):
    kind = forms.ChoiceField(label="Certification", choices=CertificationKind.choices)
    certified_on = forms.DateField(label="Certified on", widget=forms.DateInput(attrs={"type": "date"}))
    expires_on = forms.DateField(label="Expires on", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    hours = forms.IntegerField(
        label="Training hours", min_value=0, max_value=1000, required=False, help_text="As on the certificate."
    )

    def clean_hours(self):
        return self.cleaned_data["hours"] or 0


class RosterImportForm(forms.Form):
    file = forms.FileField(label="Roster CSV", help_text="Columns: " + ", ".join(COLUMNS))


class RosterFilterForm(forms.Form):
    """The roster list's filters (GET)."""

    READINESS = [("", "Any"), ("ready", "Ready to deploy"), ("not-ready", "Not ready")]

    q = SingleLineField(label="Name", required=False, max_length=100)
    readiness = forms.ChoiceField(label="Readiness", required=False, choices=READINESS)
    availability = forms.ChoiceField(
        label="Availability", required=False, choices=[("", "Any"), *SupporterProfile.Availability.choices]
    )
