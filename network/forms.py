"""Forms of the network pages (sign-in, MFA, accounts, audit search, documentation standard, policy)
and the form helpers every app shares (service errors, single-line text, tiles, error summary)."""

from django import forms
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.core.exceptions import ValidationError
from django.utils.text import slugify

from network.models import AuditEvent, Vocabulary, VocabularyTerm
from network.notify import notify
from network.privilege import PrivilegeProfileCode
from network.standards import MULTI_VALUED
from network.validators import validate_single_line


class SingleLineField(forms.CharField):
    """One line of text (a title, a name, a label): refuses line breaks, tabs and other control
    characters with a clear message (network.validators). Every single-line text field uses it."""

    default_validators = [validate_single_line]


class EmailAuthenticationForm(AuthenticationForm):
    username = forms.EmailField(
        label="E-mail", widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True})
    )
    error_messages = {
        "invalid_login": "That e-mail and password do not match an active account. Check both and try again.",
        "inactive": "That e-mail and password do not match an active account. Check both and try again.",
    }


class PasswordResetByNotifyForm(PasswordResetForm):
    """Django's reset request form; its one mail goes through `network.notify` (email/password_reset.txt)."""

    def send_mail(self, subject_template_name, email_template_name, context, from_email, to_email, **kwargs):
        notify(to_email, "password_reset", context)


class MfaCodeForm(forms.Form):
    """One code from the authenticator app (or, at sign-in, a recovery code)."""

    code = forms.CharField(
        label="Code",
        max_length=20,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autocapitalize": "none", "spellcheck": "false", "autofocus": True}
        ),
    )


class AccountStatusForm(forms.Form):
    email = forms.EmailField(label="E-mail of the account")
    action = forms.ChoiceField(
        label="Change",
        choices=[
            ("disable", "Disable: signs them out everywhere; they cannot sign in"),
            ("enable", "Enable again"),
        ],
        widget=forms.RadioSelect(attrs={"class": "usa-radio__input usa-radio__input--tile"}),
    )


class MfaResetForm(forms.Form):
    email = forms.EmailField(label="E-mail of the account", help_text="The person must sign in and set up again.")
    confirm = forms.BooleanField(
        label="I have confirmed who this person is (for example by calling them back at a known number)."
    )


def choices_read_once(field: forms.ModelChoiceField, objects: list | None = None) -> bool:
    """Read a model choice field's queryset now, once, into fixed choices, and say whether it offered any.
    `objects`: the queryset's rows when the page has already read them with something else.

    A model choice field reads its queryset every time its choices are iterated (the widget, a template's
    "is there anything to choose?"); fixed choices are read once. Validation still checks a posted value
    against the queryset."""
    objects = list(field.queryset) if objects is None else objects
    empty = [("", field.empty_label)] if field.empty_label is not None else []
    field.choices = empty + [(field.prepare_value(obj), field.label_from_instance(obj)) for obj in objects]
    return bool(objects)


class TileChoices:
    """Radio and checkbox groups render as large tap targets (USWDS tiles): the `choices` template tag
    (agencies/templatetags/muster.py)."""

    def style_choice_widgets(self) -> None:
        for field in self.fields.values():
            if isinstance(field.widget, forms.RadioSelect):
                field.widget.attrs["class"] = "usa-radio__input usa-radio__input--tile"
            elif isinstance(field.widget, forms.CheckboxSelectMultiple):
                field.widget.attrs["class"] = "usa-checkbox__input usa-checkbox__input--tile"


class ErrorSummary:
    """The USWDS error summary: one link per field in error, to the field itself (the first choice of a
    group), in the order the fields appear."""

    def error_summary(self) -> list[dict]:
        rows = [{"anchor": "", "label": "", "errors": list(self.non_field_errors())}] if self.non_field_errors() else []
        for bound in self:
            if not bound.errors:
                continue
            grouped = isinstance(bound.field.widget, (forms.RadioSelect, forms.CheckboxSelectMultiple))
            anchor = f"{bound.auto_id}_0" if grouped else bound.id_for_label
            label = "The form" if bound.is_hidden else bound.label
            rows.append({"anchor": "" if bound.is_hidden else anchor, "label": label, "errors": list(bound.errors)})
        return rows


class AuditSearchForm(forms.Form):
    action = forms.CharField(
        label="Action", required=False, max_length=64, help_text="A code or its start, e.g. membership. or auth."
    )
    actor = forms.CharField(label="Person (e-mail)", required=False, max_length=254)
    outcome = forms.ChoiceField(label="Outcome", required=False, choices=[("", "Any"), *AuditEvent.Outcome.choices])
    object_id = forms.CharField(label="Object id", required=False, max_length=64)
    since = forms.DateField(label="From (UTC)", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label="To (UTC)", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    agency = forms.ModelChoiceField(label="Agency", required=False, queryset=None, empty_label="Any")

    def __init__(self, *args, agencies=None, **kwargs):
        super().__init__(*args, **kwargs)
        if agencies is None:
            del self.fields["agency"]
        else:
            self.fields["agency"].queryset = agencies

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("since") and cleaned.get("until") and cleaned["until"] < cleaned["since"]:
            self.add_error("until", "The end date is before the start date.")
        return cleaned


# Bounds that keep any pasted text away from the database's limits (a 500 is never an answer).
_CODE_MAX = VocabularyTerm._meta.get_field("code").max_length


_LABEL_MAX = VocabularyTerm._meta.get_field("label").max_length


_TERMS_MAX = 200


def _slug_part(value: str, what: str, where: str) -> str:
    slug = slugify(value)
    if not slug:
        raise ValidationError(f"{where}: the {what} needs letters or digits.", code=f"term_{what}_empty")
    if len(slug) > _CODE_MAX:
        raise ValidationError(f"{where}: the {what} is longer than {_CODE_MAX} characters.", code=f"term_{what}_long")
    return slug


def parse_terms(text: str, vocabulary: Vocabulary, concepts: dict[str, str]) -> list[tuple[str, str, str]]:
    """Read `code | label | concept` lines into terms; every problem names the vocabulary and line, and
    carries a stable code (`term_separator`, `term_label_missing`, `single_line`, ...) for callers and tests.

    A line without a concept keeps the concept its code had in the current version (`concepts`),
    or starts a concept of its own when the code is new.
    """
    terms: list[tuple[str, str, str]] = []
    first_line_of: dict[str, int] = {}
    errors: list[ValidationError] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        where = f"{vocabulary.label}, line {number}"
        parts = [part.strip() for part in line.split("|")]
        try:
            if len(parts) < 2:
                raise ValidationError(
                    f"{where}: separate the code and the label with “|”, e.g. “phone | Phone”.", code="term_separator"
                )
            if len(parts) > 3:
                raise ValidationError(f"{where}: use at most three parts, “code | label | concept”.", code="term_parts")
            code = _slug_part(parts[0], "code", where)
            label = parts[1]
            if not label:
                raise ValidationError(f"{where}: the label is missing.", code="term_label_missing")
            if len(label) > _LABEL_MAX:
                raise ValidationError(
                    f"{where}: the label is longer than {_LABEL_MAX} characters.", code="term_label_long"
                )
            try:
                validate_single_line(label)
            except ValidationError as error:
                raise ValidationError(f"{where}: {error.messages[0]}", code=error.error_list[0].code) from None
            given = parts[2] if len(parts) == 3 else ""
            concept = _slug_part(given, "concept", where) if given else concepts.get(code, code)
            if code in first_line_of:
                raise ValidationError(
                    f"{where}: the code “{code}” is already used on line {first_line_of[code]}.", code="term_repeated"
                )
        except ValidationError as error:
            errors.append(error)
            continue
        first_line_of[code] = number
        terms.append((code, label, concept))
    if len(terms) > _TERMS_MAX:
        errors.append(
            ValidationError(f"{vocabulary.label}: keep it to {_TERMS_MAX} terms or fewer.", code="too_many_terms")
        )
    if not terms and not errors:
        errors.append(ValidationError(f"{vocabulary.label}: list at least one term.", code="no_terms"))
    if errors:
        raise ValidationError(errors)
    return terms


def _terms_as_text(terms: list[VocabularyTerm]) -> str:
    return "\n".join(f"{term.code} | {term.label} | {term.concept}" for term in terms)


class StandardPublishForm(forms.Form):
    """One textarea per vocabulary; `cleaned_data` maps each vocabulary to its (code, label, concept) rows."""

    def __init__(self, *args, current: dict[str, list[VocabularyTerm]], **kwargs):
        super().__init__(*args, initial={v: _terms_as_text(terms) for v, terms in current.items()}, **kwargs)
        self.concepts = {v: {term.code: term.concept for term in terms} for v, terms in current.items()}
        for vocabulary in Vocabulary:
            kind = "several of these" if vocabulary in MULTI_VALUED else "exactly one of these"
            self.fields[vocabulary.value] = forms.CharField(
                label=vocabulary.label,
                # Not stripped, so the line numbers in messages match the lines on screen.
                strip=False,
                max_length=20_000,
                error_messages={"required": f"{vocabulary.label}: list at least one term."},
                help_text=f"One term per line: code | label | concept (concept optional). An encounter records {kind}.",
                widget=forms.Textarea(
                    attrs={"rows": max(len(current.get(vocabulary.value, [])) + 2, 4), "spellcheck": "false"}
                ),
            )

    def fields_with_errors(self) -> list[forms.BoundField]:
        return [field for field in self if field.errors]

    def clean(self):
        cleaned = super().clean()
        for vocabulary in Vocabulary:
            text = cleaned.get(vocabulary.value)
            if text is None:
                continue
            try:
                cleaned[vocabulary.value] = parse_terms(text, vocabulary, self.concepts.get(vocabulary.value, {}))
            except ValidationError as error:
                self.add_error(vocabulary.value, error)
        return cleaned


class PolicyForm(forms.Form):
    notes_enabled = forms.BooleanField(
        required=False,
        label="Allow free-text notes on encounters",
        help_text=(
            "Notes are privileged records in several states and can be subpoenaed. "
            "They stay off unless the network decides to allow them."
        ),
    )
    notes_retention_days = forms.IntegerField(
        min_value=1,
        max_value=3650,
        label="Keep notes for (days)",
        help_text="Days after an encounter's follow-ups close before its notes are purged: 1 to 3650.",
    )
    followup_reminder_days = forms.IntegerField(
        min_value=0,
        max_value=30,
        label="Remind follow-up owners (days before due)",
        help_text="0 reminds on the due day; at most 30.",
    )
    suppression_threshold = forms.IntegerField(
        min_value=2,
        max_value=20,
        label="Hide counts below",
        help_text="Leadership dashboards and exports hide counts from 1 up to this number minus one (2 to 20).",
    )
    activation_retention_days = forms.IntegerField(
        min_value=1,
        max_value=3650,
        label="Keep names in closed activations for (days)",
        help_text="After this, the activation's key is destroyed and its names with it; counts remain.",
    )
    publication_delay_days = forms.IntegerField(
        min_value=1,
        max_value=60,
        label="Publish leadership figures (days after a period ends)",
        help_text=(
            "Dashboards show a month or quarter only once it is published, this many days after it ends; "
            "a published figure never changes. 1 to 60."
        ),
    )
    account_inactive_days = forms.IntegerField(
        min_value=1,
        max_value=90,
        label="Disable accounts unused for (days)",
        help_text="CJIS asks for at most 90 days; 1 to 90.",
    )
    callout_max_texts = forms.IntegerField(
        min_value=0,
        max_value=100000,
        required=False,
        label="Texts one activation's callout may send",
        help_text="Callout texts, re-sends and texts to coordinators together; 0 sends none. At most 100,000.",
    )
    callout_max_calls = forms.IntegerField(
        min_value=0,
        max_value=100000,
        required=False,
        label="Voice calls one activation's callout may place",
        help_text="0 places none. At most 100,000.",
    )
    # Members' requests and check-ins (docs/members.md). Optional in a post: left out, they keep their value.
    request_first_contact_hours = forms.IntegerField(
        min_value=1,
        max_value=72,
        required=False,
        label="First contact with a member who asked for a peer within (hours)",
        help_text="Past this, the request is escalated to the coordinators, then the region. 1 to 72.",
    )
    request_urgent_first_contact_minutes = forms.IntegerField(
        min_value=5,
        max_value=240,
        required=False,
        label="First contact when the member asked urgently within (minutes)",
        help_text="5 to 240.",
    )
    request_contact_retention_days = forms.IntegerField(
        min_value=0,
        max_value=90,
        required=False,
        label="Destroy a member's contact after their request closes (days)",
        help_text="0 to 90.",
    )
    privilege_profile = forms.ChoiceField(
        label="State privilege profile",
        required=False,
        choices=PrivilegeProfileCode.choices,
        help_text="The rules under which peer support conversations stay privileged in the network's state.",
    )
    privilege_designation_before_incident = forms.BooleanField(
        required=False, label="Custom profile: assign only supporters designated before the incident"
    )
    privilege_min_training_hours = forms.IntegerField(
        min_value=0,
        max_value=500,
        required=False,
        label="Custom profile: minimum training hours (current certifications)",
    )
    privilege_no_session_content = forms.BooleanField(
        required=False, label="Custom profile: no session content (notes and topics are not recorded)"
    )
    confidentiality_notice_text = forms.CharField(
        max_length=4000,
        label="Confidentiality notice supporters give",
        help_text=("Shown on the encounter form. Members must be told these limits in writing before a first session."),
        widget=forms.Textarea(attrs={"rows": 6}),
    )

    CUSTOM_PROFILE_FIELDS = (
        "privilege_designation_before_incident",
        "privilege_min_training_hours",
        "privilege_no_session_content",
    )

    def clean(self):
        cleaned = super().clean()
        # The custom profile's rules are set only with the custom profile; under a state's profile they are kept.
        cleaned["privilege_profile"] = cleaned.get("privilege_profile") or "none"
        if cleaned["privilege_profile"] != "custom":
            for name in self.CUSTOM_PROFILE_FIELDS:
                cleaned.pop(name, None)
        elif cleaned.get("privilege_min_training_hours") is None:
            cleaned["privilege_min_training_hours"] = 0
        return cleaned


# --- Mobile number for callouts (network.services.mobile_*) ----------------------------------------------


class MobileNumberForm(forms.Form):
    number = SingleLineField(
        label="Mobile number",
        max_length=32,
        help_text="A U.S. number, e.g. (202) 555-0123; other countries with + and the country code.",
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
    )


class MobileConfirmForm(forms.Form):
    code = forms.CharField(
        label="Code from the text",
        max_length=6,
        min_length=6,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def clean_code(self):
        code = self.cleaned_data["code"].strip()
        if not code.isdigit():
            raise ValidationError("The code is six digits.")
        return code


class MobilePreferencesForm(forms.Form):
    accepts_text = forms.BooleanField(label="Text me callouts", required=False)
    accepts_voice = forms.BooleanField(label="Call me when I have not answered a callout text", required=False)
    reminders_by_text = forms.BooleanField(label="Text me when a follow-up I own is due", required=False)
    quiet_from = forms.TimeField(
        label="Quiet hours from",
        required=False,
        help_text="No texts or calls from this time (e.g. 22:00) ...",
        widget=forms.TimeInput(attrs={"type": "time"}),
    )
    quiet_until = forms.TimeField(
        label="Quiet hours until",
        required=False,
        help_text="... until this time (e.g. 06:00). Callouts for a line-of-duty death, officer-involved shooting, "
        "mass casualty, in-custody death or suicide of a member come through anyway.",
        widget=forms.TimeInput(attrs={"type": "time"}),
    )
