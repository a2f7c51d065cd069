"""Forms of members' requests: the public request form, the poster's settings, the queue's filter and assignment."""

from __future__ import annotations

import phonenumbers
from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from members.models import MemberRequest, RequestAddress
from network.forms import ErrorSummary, SingleLineField, TileChoices

HONEYPOT = "website"


class NoEcho(forms.TextInput):
    """A text input that never renders a value back: the public form reflects nothing a visitor typed."""

    def format_value(self, value):
        return None


class MemberRequestForm(TileChoices, ErrorSummary, forms.Form):
    """The public request form. Every field but the contact is a fixed choice; the contact is never echoed."""

    urgency = forms.ChoiceField(
        label="How soon do you need someone?", choices=MemberRequest.Urgency.choices, widget=forms.RadioSelect
    )
    who = forms.ChoiceField(label="You are", choices=MemberRequest.Who.choices, widget=forms.RadioSelect)
    served_by = forms.ChoiceField(
        label="Who would you like to talk to?", choices=MemberRequest.ServedBy.choices, widget=forms.RadioSelect
    )
    contact_kind = forms.ChoiceField(
        label="How can we reach you?", choices=MemberRequest.ContactKind.choices, widget=forms.RadioSelect
    )
    contact = forms.CharField(
        label="Your phone number or e-mail",
        required=False,
        max_length=254,
        help_text="Leave empty if you will call the team line.",
        widget=NoEcho(attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "none"}),
    )
    contact_visible_to = forms.ChoiceField(
        label="Who may see how to reach you?",
        choices=MemberRequest.ContactVisibleTo.choices,
        widget=forms.RadioSelect,
    )
    good_time = forms.ChoiceField(label="A good time to reach you", choices=MemberRequest.GoodTime.choices)
    topic = forms.ChoiceField(label="What is it about? (optional)", required=False)
    # Hidden from people (CSS), filled by bots: a filled one is answered like any request and stored nowhere.
    website = forms.CharField(
        required=False,
        max_length=200,
        label="Leave this empty",
        widget=NoEcho(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )

    def __init__(self, *args, topics: list[tuple[str, str]], cross_agency: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["topic"].choices = [("", "I'd rather not say")] + topics
        if not cross_agency:
            self.fields["served_by"].choices = [c for c in self.fields["served_by"].choices if c[0] == "own"]
            self.fields["served_by"].initial = "own"
        self.fields["good_time"].initial = MemberRequest.GoodTime.ANY
        self.style_choice_widgets()

    def is_bot(self) -> bool:
        return bool((self.data.get(HONEYPOT) or "").strip()) if self.is_bound else False

    def clean(self):
        data = super().clean()
        kind, contact = data.get("contact_kind"), (data.get("contact") or "").strip()
        if kind == MemberRequest.ContactKind.EMAIL:
            try:
                validate_email(contact)
            except ValidationError:
                self.add_error("contact", "Give an e-mail address like name@example.org.")
        elif kind == MemberRequest.ContactKind.PHONE:
            try:
                number = phonenumbers.parse(contact, "US")
            except phonenumbers.NumberParseException:
                number = None
            if number is None or not phonenumbers.is_possible_number(number):
                self.add_error("contact", "Give a phone number with its area code.")
            else:
                data["contact"] = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        elif kind == MemberRequest.ContactKind.TEAM_LINE:
            data["contact"] = ""
        return data


class RequestAddressForm(forms.ModelForm):
    team_line = SingleLineField(label="Team line (phone)", required=False, max_length=40)
    emergency_resources = forms.CharField(
        label="Your agency's emergency resources",
        required=False,
        max_length=600,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Shown after 988 to a member who needs help now: EAP line, chaplain, on-call clinician.",
    )

    class Meta:
        model = RequestAddress
        fields = ["team_line", "emergency_resources"]


class QueueFilterForm(forms.Form):
    status = forms.ChoiceField(
        label="Show",
        required=False,
        choices=[("open", "Not closed"), *MemberRequest.Status.choices, ("all", "All")],
    )


class AssignForm(forms.Form):
    supporter = forms.TypedChoiceField(label="Give this request to", coerce=int, empty_value=None)

    def __init__(self, *args, supporters, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["supporter"].choices = [("", "Choose a ready supporter")] + [
            (m.pk, f"{m.user.get_full_name()} ({m.agency.name})") for m in supporters
        ]
