"""Forms for opening an activation, listing affected members and assigning outreach."""

from __future__ import annotations

from django import forms
from django.utils import timezone

from activations.models import OutreachTarget
from agencies.forms import AgencyChoice, AgencyMultipleChoice
from agencies.models import Agency
from governance.models import IncidentType
from network.forms import SingleLineField, TileChoices
from network.validators import validate_single_line


class ActivationOpenForm(TileChoices, forms.Form):
    incident_type = forms.ChoiceField(label="Type of incident", choices=IncidentType.choices, widget=forms.RadioSelect)
    name = SingleLineField(label="Name", max_length=200, help_text="Short and operational, e.g. 'Route 9 bus crash'.")
    occurred_at = forms.DateTimeField(
        label="Date and time of the incident", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    location = SingleLineField(label="General location", max_length=200, help_text="City, district or facility only.")
    lead_agency = AgencyChoice(label="Lead agency", queryset=Agency.objects.none())
    participating = AgencyMultipleChoice(
        label="Other participating agencies",
        queryset=Agency.objects.none(),
        required=False,
        help_text="Only agencies under a collaboration agreement in force with the lead agency can join.",
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, lead_choices, agency_choices, only_lead=None, **kwargs):
        """`only_lead`: the one agency `lead_choices` holds, when the caller knows it (an agency's own page):
        the lead is then fixed, and the form does not read `lead_choices` to find that out."""
        kwargs.setdefault("initial", {}).setdefault(
            "occurred_at", timezone.localtime().replace(second=0, microsecond=0)
        )
        super().__init__(*args, **kwargs)
        self.fields["lead_agency"].queryset = lead_choices
        if only_lead is not None:
            self.fields["lead_agency"].initial = only_lead.pk
            self.fields["lead_agency"].widget = forms.HiddenInput()
        self.fields["participating"].queryset = agency_choices
        self.style_choice_widgets()


class MembersAddForm(TileChoices, forms.Form):
    home_agency = AgencyChoice(label="Their agency", queryset=Agency.objects.none())
    exposure = forms.ChoiceField(label="Exposure", choices=OutreachTarget.Exposure.choices, widget=forms.RadioSelect)
    name = SingleLineField(label="Name", max_length=150, required=False)
    role = SingleLineField(label="Role or assignment (optional)", max_length=60, required=False)
    pasted = forms.CharField(
        label="Or paste a list",
        required=False,
        max_length=50_000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="One person per line: 'Name' or 'Name, role'. All get the agency and exposure above.",
    )

    def __init__(self, *args, agencies, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["home_agency"].queryset = agencies
        self.style_choice_widgets()

    def clean_pasted(self):
        """One person per line: each line is held to what a single name field accepts."""
        pasted = self.cleaned_data["pasted"]
        for number, line in enumerate(pasted.splitlines(), start=1):
            try:
                validate_single_line(line)
            except forms.ValidationError as error:
                raise forms.ValidationError(f"Line {number}: {error.messages[0]}") from None
        return pasted

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("name", "").strip() and not cleaned.get("pasted", "").strip():
            raise forms.ValidationError("Enter a name, or paste a list of names.")
        return cleaned


def assignment_choice_value(supporter_id: int, agency_id: int) -> str:
    """A choice on the assign page is a (supporter, agency) pair: a supporter of two participating
    agencies is offered under each, and the one chosen is the one assigned."""
    return f"{supporter_id}:{agency_id}"


class AssignForm(forms.Form):
    supporter = forms.ChoiceField(
        choices=(), error_messages={"required": "Choose a supporter.", "invalid_choice": "Choose a supporter."}
    )
    expected_supporter = forms.IntegerField(required=False, widget=forms.HiddenInput)
    supervises = forms.BooleanField(
        label="The chosen supporter supervises this member (they are not assigned: privilege would not hold)",
        required=False,
    )

    def __init__(self, *args, candidates: list[dict], **kwargs):
        """`candidates`: activations.selectors.assignable_supporters; blocked ones stay valid choices here so
        the service answers with the reason."""
        super().__init__(*args, **kwargs)
        self.pairs = {assignment_choice_value(p["user"].pk, p["agency"].pk): p for p in candidates}
        self.fields["supporter"].choices = [(value, value) for value in self.pairs]

    def clean_supporter(self) -> dict:
        return self.pairs[self.cleaned_data["supporter"]]


class CalloutAnswerForm(TileChoices, forms.Form):
    answer = forms.ChoiceField(
        label="Are you available?",
        choices=[("available", "Available"), ("unavailable", "Unavailable")],
        widget=forms.RadioSelect,
    )
    involved = forms.BooleanField(
        label="I was a witness to or a party in this incident (you will not be assigned to it)", required=False
    )
    supervises = forms.BooleanField(
        label="I supervise members affected by this incident (you will not be assigned to your agency's members)",
        required=False,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.style_choice_widgets()


class AddAgencyForm(forms.Form):
    agency = AgencyChoice(label="Agency", queryset=Agency.objects.none())

    def __init__(self, *args, agencies, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agency"].queryset = agencies


class SupporterRequestForm(forms.Form):
    request = forms.ChoiceField(choices=[("change", "Change supporter"), ("add", "Add a supporter")])
