"""Forms for agencies: onboarding (create, first admin), invitations, memberships, offboarding, and the
agency pickers other apps use."""

from django import forms
from django.contrib.auth import password_validation

from agencies.models import Agency, Discipline, Role, validate_agency_slug
from network.forms import SingleLineField
from network.models import Region, User


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
            try:
                password_validation.validate_password(
                    p1, User(email=self.email, full_name=cleaned.get("full_name", ""))
                )
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return cleaned


class MembershipRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class AgencyChoice(forms.ModelChoiceField):
    def label_from_instance(self, agency):
        return agency.name


class AgencyMultipleChoice(forms.ModelMultipleChoiceField):
    def label_from_instance(self, agency):
        return f"{agency.name} ({agency.get_discipline_display()})"


class DestroyForm(forms.Form):
    confirm_slug = forms.CharField(
        label="Type the agency's address to confirm", max_length=40, help_text="This cannot be undone."
    )
