"""The encounter form (built from the current documentation standard), follow-up and disclosure forms."""

from __future__ import annotations

import uuid

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.functional import cached_property

from activations.selectors import activations_open_for
from agencies.models import Agency, Discipline, Membership, Role
from agencies.selectors import SUPPORTING_ROLES, clinicians_of, supporters_of
from encounters.models import CheckInPlan, DisclosureRecord, FollowUp, Referral
from governance.models import ResourceKind, ResourceSpecialty
from governance.selectors import DISCIPLINE_OF_RECIPIENT
from network.forms import ErrorSummary, SingleLineField, TileChoices, choices_read_once
from network.models import DocumentationStandard, Vocabulary
from network.phone import normalize_number
from network.selectors import terms_by_vocabulary

User = get_user_model()

# Defaults that make the common case a handful of taps.
DISCIPLINE_DEFAULTS = {
    Discipline.FIRE: ("fire", "firefighter-ems"),
    Discipline.EMS: ("ems", "firefighter-ems"),
    Discipline.DISPATCH: ("dispatch", "dispatcher"),
    Discipline.LAW_ENFORCEMENT: ("law-enforcement", "sworn"),
    Discipline.CORRECTIONS: ("corrections", "corrections-officer"),
}
YES_NO = [("yes", "Yes"), ("no", "No")]
# Fields that carry what the member said or did: never restored by the browser, never autofilled.
CONFIDENTIAL_FIELDS = ("notes", "follow_up_due_on", "occurred_on", "checkin_email", "checkin_mobile")
CHECKIN_BY = [("email", "E-mail"), ("text", "Text message")]


def outreach_initial(target, agency: Agency) -> dict:
    """An activation contact describes the affected member, not the supporter: their home agency's
    discipline and role class, "another agency" when that is not the supporter's own, and the activation."""
    home = target.home_agency
    discipline, role_class = DISCIPLINE_DEFAULTS.get(home.discipline, ("other", "other"))
    return {
        "outreach_target": target.uuid,
        "initiator": "activation",
        "visit_number": 1,
        "recipient_relation": "own-agency" if home.pk == agency.pk else "other-agency",
        "recipient_discipline": discipline,
        "role_class": role_class,
        "activation": target.activation,
    }


def request_initial(member_request, agency: Agency, relation: str) -> dict:
    """A contact answering a member's own request: they reached out (initiator "self"), with their topic, and
    described by their relation to this agency (members.selectors.relation_of)."""
    discipline, role_class = DISCIPLINE_DEFAULTS.get(member_request.agency.discipline, ("other", "other"))
    initial = {
        "peer_request": member_request.uuid,
        "initiator": "self",
        "recipient_relation": relation,
        "recipient_discipline": discipline,
        "role_class": role_class,
    }
    if member_request.topic:
        initial["topics"] = [member_request.topic]
    return initial


class MemberChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, user):
        return user.get_full_name()


class MemberField(forms.ModelChoiceField):
    def label_from_instance(self, user):
        return user.get_full_name()


def _users(memberships, exclude=None):
    qs = User.objects.filter(pk__in=memberships.values_list("user_id", flat=True)).order_by("full_name")
    return qs.exclude(pk=exclude.pk) if exclude is not None else qs


class EncounterForm(ErrorSummary, TileChoices, forms.Form):
    submission_key = forms.UUIDField(widget=forms.HiddenInput)
    outreach_target = forms.UUIDField(widget=forms.HiddenInput, required=False)
    peer_request = forms.UUIDField(widget=forms.HiddenInput, required=False)  # a member's request for a peer
    occurred_on = forms.DateField(label="Date", widget=forms.DateInput(attrs={"type": "date"}))
    duration_band = forms.ChoiceField(label="How long", widget=forms.RadioSelect)
    contact_mode = forms.ChoiceField(label="How", widget=forms.RadioSelect)
    initiator = forms.ChoiceField(label="Who reached out", widget=forms.RadioSelect)
    topics = forms.MultipleChoiceField(label="Topics", widget=forms.CheckboxSelectMultiple)
    interventions = forms.MultipleChoiceField(label="Intervention", widget=forms.CheckboxSelectMultiple)
    confidentiality_notice = forms.ChoiceField(
        label="Confidentiality limits explained (in writing before a first session)?",
        choices=YES_NO,
        widget=forms.RadioSelect,
    )
    recipient_relation = forms.ChoiceField(label="Member is from", widget=forms.RadioSelect)
    recipient_discipline = forms.ChoiceField(label="Member's discipline", widget=forms.RadioSelect)
    role_class = forms.ChoiceField(label="Member's role", widget=forms.RadioSelect)
    visit_number = forms.TypedChoiceField(
        label="Visit",
        coerce=int,
        choices=[(1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th or later")],
        widget=forms.RadioSelect,
    )
    referral = forms.ChoiceField(label="Referral made", widget=forms.RadioSelect)
    referred_to = MemberField(label="Clinician referred to", queryset=User.objects.none(), required=False)
    follow_up_due_on = forms.DateField(
        label="Follow-up due (leave empty if none)", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    co_supporters = MemberChoiceField(
        label="Co-supporters", queryset=User.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )
    activation = forms.ModelChoiceField(
        label="Part of an activation (optional)",
        queryset=None,
        required=False,
        empty_label="None",
    )
    escalation = forms.BooleanField(
        label="A confidentiality exception applies (opens a disclosure record; no details here)", required=False
    )
    notes = forms.CharField(
        label="Notes (encrypted)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
    )
    checkins = forms.BooleanField(
        label="The member agrees to short check-ins afterwards",
        required=False,
        help_text="A short e-mail or text on each day of the network's schedule; one tap (or STOP) ends them. "
        "Only you see the answers.",
    )
    checkin_by = forms.ChoiceField(
        label="Check-ins by", choices=CHECKIN_BY, required=False, initial="email", widget=forms.RadioSelect
    )
    checkin_email = forms.EmailField(
        label="Member's e-mail for check-ins",
        required=False,
        max_length=254,
        help_text="Encrypted, seen by no one, and destroyed when the check-ins end.",
    )
    checkin_mobile = forms.CharField(
        label="Member's mobile number for check-ins",
        required=False,
        max_length=32,
        help_text="Encrypted, seen by no one, and destroyed when the check-ins end (or when the member texts STOP).",
    )

    def __init__(
        self,
        *args,
        agency: Agency,
        user,
        standard: DocumentationStandard,
        notes_enabled: bool,
        notes_retention_days: int | None = None,
        activation_fixed: bool = False,
        checkin_days: list[int] | None = None,
        no_session_content: bool = False,
        **kwargs,
    ):
        initial = kwargs.setdefault("initial", {})
        discipline, role_class = DISCIPLINE_DEFAULTS.get(agency.discipline, ("other", "other"))
        initial.setdefault("submission_key", uuid.uuid4())
        initial.setdefault("occurred_on", timezone.localdate())
        initial.setdefault("recipient_relation", "own-agency")
        initial.setdefault("recipient_discipline", discipline)
        initial.setdefault("role_class", role_class)
        initial.setdefault("visit_number", 1)
        initial.setdefault("referral", "none")
        initial.setdefault("interventions", ["one-on-one"])
        super().__init__(*args, **kwargs)
        self._agency, self._user = agency, user
        terms = terms_by_vocabulary(standard)
        for name, vocabulary in (
            ("duration_band", Vocabulary.DURATION_BAND),
            ("contact_mode", Vocabulary.CONTACT_MODE),
            ("initiator", Vocabulary.INITIATOR),
            ("topics", Vocabulary.TOPIC),
            ("interventions", Vocabulary.INTERVENTION),
            ("recipient_relation", Vocabulary.RECIPIENT_RELATION),
            ("recipient_discipline", Vocabulary.RECIPIENT_DISCIPLINE),
            ("role_class", Vocabulary.ROLE_CLASS),
            ("referral", Vocabulary.REFERRAL),
        ):
            self.fields[name].choices = [(t.code, t.label) for t in terms[vocabulary]]
        self.fields["co_supporters"].queryset = _users(supporters_of(agency), exclude=user)
        self.fields["referred_to"].queryset = _users(clinicians_of(agency))
        self.fields["activation"].queryset = activations_open_for(agency)
        self.fields["activation"].label_from_instance = lambda a: f"{a.name} ({a.get_incident_type_display()})"
        if activation_fixed:
            # An activation contact belongs to its assignment's activation: shown, not chosen.
            self.fields["activation"].disabled = True
            self.fields["activation"].label = "Part of an activation"
        if no_session_content:
            # The state's privilege profile forbids recording session content: no notes, no topics (the service
            # refuses them too).
            del self.fields["topics"]
        if not notes_enabled or no_session_content:
            del self.fields["notes"]
        else:
            kept = (
                f"Kept {notes_retention_days} days after the last follow-up closes (or after logging, if there is "
                "none), then purged. "
                if notes_retention_days is not None
                else ""
            )
            self.fields["notes"].help_text = (
                kept + "Only what the next supporter needs. No diagnoses, no judgments, no names."
            )
            # The gentle name check (static/muster/notes_names.js) reads this; it never blocks saving.
            self.fields["notes"].widget.attrs["data-name-warning"] = "id_notes_name_warning"
        if checkin_days:
            days = "/".join(str(d) for d in checkin_days)
            self.fields["checkins"].label = f"The member agrees to short check-ins after {days} days"
        for name in CONFIDENTIAL_FIELDS:
            if name in self.fields:
                self.fields[name].widget.attrs["autocomplete"] = "off"
        self.style_choice_widgets()

    @cached_property
    def offers(self) -> dict[str, bool]:
        """Whether the page offers co-supporters and activations to choose. Each list is read once, when the
        page is drawn, for the page and for the question whether to show it at all; a valid post that
        saves and redirects reads none (the fields validate against their querysets). Co-supporters and the
        clinicians a referral may go to are one statement: the agency's people in either role."""
        agency, user = self._agency, self._user
        # Who holds either role here, as one IN over the agency's memberships (an index on the agency); which
        # role each holds comes from the one definition of each (`supporters_of`, `clinicians_of`).
        either = Membership.objects.filter(
            agency=agency, is_active=True, role__in=[*SUPPORTING_ROLES, Role.CLINICIAN]
        ).values("user_id")
        people = list(
            User.objects.filter(pk__in=either)
            .annotate(
                supporting=Exists(supporters_of(agency).filter(user=OuterRef("pk"))),
                clinician=Exists(clinicians_of(agency).filter(user=OuterRef("pk"))),
            )
            .order_by("full_name")
        )
        choices_read_once(self.fields["referred_to"], [p for p in people if p.clinician])
        return {
            "co_supporters": choices_read_once(
                self.fields["co_supporters"], [p for p in people if p.supporting and p.pk != user.pk]
            ),
            "activation": choices_read_once(self.fields["activation"]),
        }

    def clean(self):
        data = super().clean()
        if not data.get("checkins"):
            return data
        if data.get("checkin_by") == "text":
            try:
                data["checkin_mobile"] = normalize_number(data.get("checkin_mobile", ""))
            except ValidationError as error:
                self.add_error("checkin_mobile", error)
        elif not data.get("checkin_email"):
            self.add_error("checkin_email", "Give the member's e-mail, or leave check-ins off.")
        return data

    def clean_occurred_on(self):
        value = self.cleaned_data["occurred_on"]
        if value > timezone.localdate():
            raise forms.ValidationError("The date cannot be in the future.")
        return value

    def service_arguments(self) -> dict:
        data = dict(self.cleaned_data)
        data["confidentiality_notice_given"] = data.pop("confidentiality_notice") == "yes"
        data["co_supporters"] = list(data["co_supporters"])
        data["notes"] = data.get("notes", "")
        data["topics"] = data.get("topics", [])
        data.pop("outreach_target", None)
        data.pop("peer_request", None)  # the view resolves it (members.selectors.request_for_contact)
        by_text = data.pop("checkin_by", "") == "text"
        contact = data.pop("checkin_mobile", "") if by_text else data.pop("checkin_email", "")
        data["checkin_contact"] = contact if data.pop("checkins", False) else ""
        data["checkin_channel"] = CheckInPlan.Channel.TEXT if by_text else CheckInPlan.Channel.EMAIL
        data.pop("checkin_email", None)
        data.pop("checkin_mobile", None)
        return data


class FollowUpCompleteForm(TileChoices, forms.Form):
    outcome = forms.ChoiceField(label="Outcome", choices=FollowUp.Outcome.choices, widget=forms.RadioSelect)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.style_choice_widgets()


class FollowUpReassignForm(forms.Form):
    owner = MemberField(label="New owner", queryset=User.objects.none())

    def __init__(self, *args, agency: Agency, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = _users(supporters_of(agency))


class DisclosureForm(TileChoices, forms.Form):
    exception = forms.ChoiceField(
        label="Which exception applied", choices=DisclosureRecord.Exception_.choices, widget=forms.RadioSelect
    )
    disclosed_at = forms.DateTimeField(
        label="When the disclosure was made", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    notified = forms.MultipleChoiceField(
        label="Who was notified", choices=DisclosureRecord.Notified.choices, widget=forms.CheckboxSelectMultiple
    )
    written_notice_sent_on = forms.DateField(
        label="Date written notice went to the member (leave empty until sent)",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.style_choice_widgets()


class NoticeSentForm(forms.Form):
    written_notice_sent_on = forms.DateField(
        label="Date written notice went to the member", widget=forms.DateInput(attrs={"type": "date"})
    )


# --- List filters (GET; a filter that does not validate is ignored, the list is shown unfiltered) -----------


class _DateRange(forms.Form):
    since = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("since") and cleaned.get("until") and cleaned["until"] < cleaned["since"]:
            self.add_error("until", "The end date is before the start date.")
        return cleaned


class EncounterFilterForm(_DateRange):
    STATUSES = [("", "Any"), ("open-follow-up", "Open follow-up"), ("legal-hold", "On legal hold")]

    supporter = MemberField(label="Supporter", required=False, queryset=User.objects.none(), empty_label="Anyone")
    status = forms.ChoiceField(label="Status", required=False, choices=STATUSES)
    field_order = ["supporter", "since", "until", "status"]

    def __init__(self, *args, agency: Agency, with_supporter: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if with_supporter:
            self.fields["supporter"].queryset = _users(supporters_of(agency))
        else:
            del self.fields["supporter"]


class FollowUpFilterForm(forms.Form):
    STATUSES = [("open", "Open"), ("overdue", "Overdue"), ("done", "Done"), ("all", "All")]

    status = forms.ChoiceField(label="Status", required=False, choices=STATUSES)
    owner = MemberField(label="Owner", required=False, queryset=User.objects.none(), empty_label="Anyone")

    def __init__(self, *args, agency: Agency, annotate_owners: dict | None = None, **kwargs):
        """`annotate_owners`: what else the page reads with each of the team's supporters (`self.owners`)."""
        super().__init__(*args, **kwargs)
        owners = _users(supporters_of(agency))
        self.fields["owner"].queryset = owners
        self.owners = list(owners.annotate(**annotate_owners) if annotate_owners else owners)
        choices_read_once(self.fields["owner"], self.owners)  # the page's reassign lists reuse them (encounters.views)


class DisclosureFilterForm(_DateRange):
    NOTICE = [("", "Any"), ("pending", "Written notice not yet sent"), ("sent", "Written notice sent")]

    notice = forms.ChoiceField(label="Written notice", required=False, choices=NOTICE)


# --- Referrals ----------------------------------------------------------------------------------------------------

# What an encounter's topics suggest the member needs (standard topic code -> directory specialty).
NEED_OF_TOPIC = {
    "critical-incident": "trauma",
    "substance-use": "substance-use",
    "grief": "grief",
    "suicide-risk": "suicide-risk",
    "family-relationship": "couples",
    "work-stress": "depression-anxiety",
    "health": "sleep",
}


def referral_search_initial(encounter, agency: Agency) -> dict:
    """The referral search, prefilled from the encounter: the member's discipline, the need its topics suggest
    (the first that suggests one) and the kind of resource its referral code names (EAP, chaplain, crisis line)."""
    need = next((NEED_OF_TOPIC[t] for t in encounter.topics if t in NEED_OF_TOPIC), "")
    discipline = DISCIPLINE_OF_RECIPIENT.get(encounter.recipient_discipline, encounter.recipient_discipline)
    kind = encounter.referral if encounter.referral in ResourceKind.values else ""
    return {"discipline": discipline if discipline in Discipline.values else "", "need": need, "kind": kind}


class ReferralSearchForm(forms.Form):
    """The referral step's search (GET): the directory filtered by the member's discipline, need and language,
    in the agency's region (and statewide)."""

    discipline = forms.ChoiceField(
        label="Member's discipline", required=False, choices=[("", "Any"), *Discipline.choices]
    )
    need = forms.ChoiceField(label="Need", required=False, choices=[("", "Any"), *ResourceSpecialty.choices])
    language = SingleLineField(label="Language", required=False, max_length=40)
    kind = forms.ChoiceField(label="Kind", required=False, choices=[("", "Any"), *ResourceKind.choices])


class ReferralMakeForm(forms.Form):
    resource = forms.UUIDField(widget=forms.HiddenInput)
    need = forms.ChoiceField(
        required=False, choices=[("", "Any"), *ResourceSpecialty.choices], widget=forms.HiddenInput
    )


class ReferralUpdateForm(TileChoices, forms.Form):
    status = forms.ChoiceField(
        label="How did the referral go?",
        choices=[c for c in Referral.Status.choices if c[0] != Referral.Status.REFERRED],
        widget=forms.RadioSelect,
    )
    next_resource = forms.UUIDField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.style_choice_widgets()
