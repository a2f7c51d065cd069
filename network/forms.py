"""Forms for sign-in, invitations and onboarding, and the form helpers every app shares."""

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm

from agencies.models import Agency, Discipline, Role, validate_agency_slug
from network.models import Region
from network.notify import notify
from network.validators import validate_single_line


def add_service_errors(form: forms.Form, error: forms.ValidationError) -> None:
    """Show a service's ValidationError on the form, beside the field it names when there is one."""
    if hasattr(error, "error_dict"):
        for field, errors in error.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error.messages)


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


class AgencyCreateForm(forms.Form):
    name = SingleLineField(
        max_length=200,
        help_text="As the agency writes it, e.g. Riverton Fire Department.",
        # static/muster/agency_slug.js suggests the web address from it as it is typed.
        widget=forms.TextInput(attrs={"data-slug-from-name": ""}),
    )
    discipline = forms.ChoiceField(choices=[("", "- Select -")] + list(Discipline.choices))
    region = forms.ModelChoiceField(queryset=Region.objects.none(), empty_label="- Select -")
    slug = forms.CharField(
        label="Web address",
        max_length=40,
        help_text="Suggested from the name; change it if you like. Lowercase letters, digits and hyphens; the "
        "agency's pages will live at /a/<address>/.",
        validators=[validate_agency_slug],
        widget=forms.TextInput(attrs={"data-slug-suggested": "", "autocomplete": "off", "spellcheck": "false"}),
    )

    def __init__(self, *args, network=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].queryset = Region.objects.filter(network=network) if network else Region.objects.none()

    def clean_slug(self):
        slug = self.cleaned_data["slug"].strip().lower()
        if Agency.objects.filter(slug=slug).exists():
            raise forms.ValidationError("Another agency already uses this address; choose another.")
        return slug


class InvitationForm(forms.Form):
    email = forms.EmailField(label="E-mail", widget=forms.EmailInput(attrs={"autocomplete": "off"}))
    role = forms.ChoiceField(choices=Role.choices)


class FirstAdminInvitationForm(forms.Form):
    email = forms.EmailField(label="E-mail of the agency's first admin")


class InvitationAcceptForm(forms.Form):
    full_name = SingleLineField(
        label="Your name", max_length=150, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    password1 = forms.CharField(
        label="Choose a password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 12 characters; not a common password.",
    )
    password2 = forms.CharField(
        label="Type the password again", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def __init__(self, *args, email: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.email = email

    def clean(self):
        cleaned = super().clean()
        p1, p2 = cleaned.get("password1"), cleaned.get("password2")
        if p1 and p2 and p1 != p2:
            self.add_error("password2", "The two passwords differ.")
        if p1:
            from network.models import User

            try:
                password_validation.validate_password(
                    p1, User(email=self.email, full_name=cleaned.get("full_name", ""))
                )
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return cleaned


class MembershipRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


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
