"""Forms for agreements and protocols. Services re-check everything; forms give clear messages early."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from agencies.forms import AgencyMultipleChoice
from agencies.models import Agency, Discipline
from governance import services
from governance.models import ResourceKind, ResourceMethod, ResourceSpecialty, Scope
from network.forms import SingleLineField, TileChoices
from network.models import Region


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


# --- The referral resource directory --------------------------------------------------------------------------

TICKS = {"class": "usa-checkbox__input usa-checkbox__input--tile"}


def _list_of(text: str, limit: int, count: int = 20) -> list[str]:
    return [part.strip()[:limit] for part in text.split(",") if part.strip()][:count]


class RegionChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return obj.name


class ResourceEntryForm(TileChoices, forms.Form):
    kind = forms.ChoiceField(label="Kind", choices=ResourceKind.choices)
    name = SingleLineField(label="Name", max_length=200)
    contact = SingleLineField(
        label="Contact (phone, address, web site)", max_length=300, required=False, help_text="The provider's own."
    )
    region = RegionChoice(
        label="Region", queryset=Region.objects.none(), required=False, empty_label="Statewide (every region)"
    )
    disciplines = forms.MultipleChoiceField(
        label="Disciplines served",
        choices=Discipline.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple(attrs=TICKS),
        help_text="Leave all unticked when every discipline is served.",
    )
    serves_family = forms.BooleanField(label="Serves family members", required=False)
    serves_retirees = forms.BooleanField(label="Serves retirees", required=False)
    specialties = forms.MultipleChoiceField(
        label="Specialties",
        choices=ResourceSpecialty.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple(attrs=TICKS),
    )
    methods = forms.MultipleChoiceField(
        label="Methods",
        choices=ResourceMethod.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple(attrs=TICKS),
    )
    first_responder_trained = forms.BooleanField(label="Trained in first-responder culture", required=False)
    languages = SingleLineField(label="Languages (comma-separated)", max_length=300, required=False)
    telehealth = forms.BooleanField(label="Offers telehealth", required=False)
    insurance = SingleLineField(label="Insurance accepted (comma-separated)", max_length=500, required=False)
    eap_accepted = forms.BooleanField(label="Accepts EAP referrals", required=False)
    accepting_new_clients = forms.BooleanField(label="Accepting new clients", required=False)
    wait_days = forms.IntegerField(label="Waiting time (days)", min_value=0, max_value=730, required=False)
    confirmed_on = forms.DateField(
        label="Availability last confirmed on", widget=forms.DateInput(attrs={"type": "date"})
    )
    vetted_by = SingleLineField(label="Vetted by", max_length=200, required=False)
    vetted_on = forms.DateField(label="Vetted on", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    vetted_until = forms.DateField(
        label="Vetting valid until", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    active = forms.BooleanField(label="Listed (untick to retire the entry)", required=False, initial=True)

    def __init__(self, *args, regions, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].queryset = regions

    def clean_languages(self):
        return _list_of(self.cleaned_data["languages"], 40)

    def clean_insurance(self):
        return _list_of(self.cleaned_data["insurance"], 60)


class ResourceConfirmForm(forms.Form):
    accepting_new_clients = forms.BooleanField(label="Accepting new clients", required=False)
    wait_days = forms.IntegerField(label="Waiting time (days)", min_value=0, max_value=730, required=False)


class ResourceFilterForm(forms.Form):
    """The directory list's filters (GET)."""

    q = SingleLineField(label="Name", required=False, max_length=100)
    kind = forms.ChoiceField(label="Kind", required=False, choices=[("", "Any"), *ResourceKind.choices])
    region = RegionChoice(label="Region", queryset=Region.objects.none(), required=False, empty_label="Any")
    discipline = forms.ChoiceField(label="Discipline", required=False, choices=[("", "Any"), *Discipline.choices])
    specialty = forms.ChoiceField(label="Need", required=False, choices=[("", "Any"), *ResourceSpecialty.choices])
    language = SingleLineField(label="Language", required=False, max_length=40)
    standing = forms.ChoiceField(
        label="Standing",
        required=False,
        choices=[("", "Any"), ("flagged", "Flagged: stale or vetting expired"), ("good", "In good standing")],
    )
    show = forms.ChoiceField(label="Show", required=False, choices=[("", "Listed"), ("all", "Listed and retired")])

    def __init__(self, *args, regions, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].queryset = regions


class DirectoryImportForm(forms.Form):
    file = forms.FileField(label="Directory CSV")
