"""Forms for agreements and protocols. Services re-check everything; forms give clear messages early."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from agencies.forms import AgencyMultipleChoice
from agencies.models import Agency
from governance import services
from governance.models import Scope
from network.forms import SingleLineField, TileChoices


class AgreementForm(TileChoices, forms.Form):
    title = SingleLineField(label="Title", max_length=200, help_text="As on the signed document.")
    network_wide = forms.BooleanField(
        label="Network-wide mutual aid (every agency of the network, present and future)", required=False
    )
    parties = AgencyMultipleChoice(
        label="Parties", queryset=Agency.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )
    scopes = forms.MultipleChoiceField(
        label="What it covers", choices=Scope.choices, widget=forms.CheckboxSelectMultiple
    )
    effective_on = forms.DateField(label="In force from", widget=forms.DateInput(attrs={"type": "date"}))
    expires_on = forms.DateField(
        label="Expires on (optional)",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Leave empty when the agreement has no end date.",
    )
    document = forms.FileField(
        label="Signed agreement", help_text="PDF, PNG or JPEG, at most 10 MB.", allow_empty_file=False
    )

    def __init__(self, *args, parties, allow_network_wide: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["parties"].queryset = parties
        if not allow_network_wide:
            del self.fields["network_wide"]
        self.style_choice_widgets()

    def clean(self):
        cleaned = super().clean()
        effective, expires = cleaned.get("effective_on"), cleaned.get("expires_on")
        if effective and expires and expires < effective:
            self.add_error("expires_on", "The agreement cannot expire before it takes effect.")
        return cleaned


class AgreementDecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("decline", "Decline"), ("revoke", "Revoke")])


class ProtocolForm(forms.Form):
    name = SingleLineField(label="Name", max_length=200)
    steps = forms.CharField(
        label="Checklist",
        max_length=6000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=(
            "One step per line, starting with when it is due after the incident: “3h Demobilization”, "
            "“12h Defusing”, or a window such as “1d-10d Debriefing (CISD)”. h = hours, d = days."
        ),
    )
    follow_up_days = forms.CharField(
        label="Follow up each affected member after (days)",
        max_length=100,
        required=False,
        help_text="Days after the incident, separated by commas, e.g. 7, 30, 90. Leave empty for none.",
    )

    text_wait_minutes = forms.IntegerField(
        label="Call a supporter who has not answered the callout text after (minutes)",
        min_value=1,
        max_value=240,
        required=False,
        initial=10,
        help_text="1 to 240 (empty: 10). A text that cannot be delivered is followed by the call at once.",
    )
    call_wait_minutes = forms.IntegerField(
        label="Tell the coordinators after the call goes unanswered for (minutes)",
        min_value=1,
        max_value=240,
        required=False,
        initial=10,
        help_text="1 to 240 (empty: 10). They are told on the board and by text.",
    )

    def clean_text_wait_minutes(self):
        return self.cleaned_data["text_wait_minutes"] or 10

    def clean_call_wait_minutes(self):
        return self.cleaned_data["call_wait_minutes"] or 10

    def clean_steps(self):
        try:
            return services.parse_steps(self.cleaned_data["steps"])
        except ValidationError as error:
            raise ValidationError(error.messages) from None

    def clean_follow_up_days(self):
        return services.parse_follow_up_days(self.cleaned_data["follow_up_days"])
