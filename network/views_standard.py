"""The state admin's pages for the network's documentation standard (versioned vocabularies) and policy."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.text import slugify

from agencies.access import network_view
from network.forms import add_service_errors
from network.models import DocumentationStandard, Network, NetworkRole, Vocabulary, VocabularyTerm
from network.selectors import network_current, policy_for, standard_current, terms_by_vocabulary
from network.standards import MULTI_VALUED, policy_update, standard_publish
from network.validators import validate_single_line

STATE_ADMIN = NetworkRole.Role.STATE_ADMIN

# Bounds that keep any pasted text away from the database's limits (a 500 is never an answer).
_CODE_MAX = VocabularyTerm._meta.get_field("code").max_length
_LABEL_MAX = VocabularyTerm._meta.get_field("label").max_length
_TERMS_MAX = 200


def _network() -> Network:
    network = network_current()
    if network is None:
        raise Http404("Not found.")
    return network


def _slug_part(value: str, what: str, where: str) -> str:
    slug = slugify(value)
    if not slug:
        raise ValidationError(f"{where}: the {what} needs letters or digits.")
    if len(slug) > _CODE_MAX:
        raise ValidationError(f"{where}: the {what} is longer than {_CODE_MAX} characters.")
    return slug


def parse_terms(text: str, vocabulary: Vocabulary, concepts: dict[str, str]) -> list[tuple[str, str, str]]:
    """Read `code | label | concept` lines into terms; every problem names the vocabulary and line.

    A line without a concept keeps the concept its code had in the current version (`concepts`),
    or starts a concept of its own when the code is new.
    """
    terms: list[tuple[str, str, str]] = []
    first_line_of: dict[str, int] = {}
    errors: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        where = f"{vocabulary.label}, line {number}"
        parts = [part.strip() for part in line.split("|")]
        try:
            if len(parts) < 2:
                raise ValidationError(f"{where}: separate the code and the label with “|”, e.g. “phone | Phone”.")
            if len(parts) > 3:
                raise ValidationError(f"{where}: use at most three parts, “code | label | concept”.")
            code = _slug_part(parts[0], "code", where)
            label = parts[1]
            if not label:
                raise ValidationError(f"{where}: the label is missing.")
            if len(label) > _LABEL_MAX:
                raise ValidationError(f"{where}: the label is longer than {_LABEL_MAX} characters.")
            try:
                validate_single_line(label)
            except ValidationError as error:
                raise ValidationError(f"{where}: {error.messages[0]}") from None
            given = parts[2] if len(parts) == 3 else ""
            concept = _slug_part(given, "concept", where) if given else concepts.get(code, code)
            if code in first_line_of:
                raise ValidationError(f"{where}: the code “{code}” is already used on line {first_line_of[code]}.")
        except ValidationError as error:
            errors.extend(error.messages)
            continue
        first_line_of[code] = number
        terms.append((code, label, concept))
    if len(terms) > _TERMS_MAX:
        errors.append(f"{vocabulary.label}: keep it to {_TERMS_MAX} terms or fewer.")
    if not terms and not errors:
        errors.append(f"{vocabulary.label}: list at least one term.")
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
    confidentiality_notice_text = forms.CharField(
        max_length=4000,
        label="Confidentiality notice supporters give",
        help_text=("Shown on the encounter form. Members must be told these limits in writing before a first session."),
        widget=forms.Textarea(attrs={"rows": 6}),
    )


def _vocabularies(standard: DocumentationStandard) -> list[dict]:
    grouped = terms_by_vocabulary(standard)
    return [
        {"value": v.value, "label": v.label, "multi": v in MULTI_VALUED, "terms": grouped[v.value]} for v in Vocabulary
    ]


@network_view(STATE_ADMIN)
def standard_detail(request: HttpRequest) -> HttpResponse:
    network = _network()
    standard = standard_current(network)
    earlier = network.standards.exclude(pk=standard.pk).select_related("published_by").order_by("-version")
    return render(
        request,
        "network/standard_detail.html",
        {"standard": standard, "vocabularies": _vocabularies(standard), "earlier": earlier},
    )


@network_view(STATE_ADMIN)
def standard_publish_view(request: HttpRequest) -> HttpResponse:
    network = _network()
    current = standard_current(network)
    form = StandardPublishForm(request.POST or None, current=terms_by_vocabulary(current))
    if request.method == "POST" and form.is_valid():
        terms = {v.value: form.cleaned_data[v.value] for v in Vocabulary}
        try:
            standard = standard_publish(actor=request.user, network=network, terms=terms, request=request)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"Version {standard.version} of the documentation standard is published.")
            return redirect("network_standard")
    return render(request, "network/standard_publish.html", {"form": form, "current": current})


@network_view(STATE_ADMIN)
def policy_edit(request: HttpRequest) -> HttpResponse:
    network = _network()
    policy = policy_for(network)
    initial = {name: getattr(policy, name) for name in PolicyForm.base_fields}
    form = PolicyForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        if not form.has_changed():
            messages.info(request, "Nothing changed; the network policy is as it was.")
            return redirect("network_policy")
        try:
            policy_update(actor=request.user, network=network, request=request, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, "The network policy is saved.")
            return redirect("network_policy")
    labels = {name: field.label for name, field in PolicyForm.base_fields.items()}
    history = [
        {
            "setting": labels.get(c.setting, c.setting),
            "old": c.old_value,
            "new": c.new_value,
            "by": c.changed_by.get_full_name() if c.changed_by else "system",
            "at": c.changed_at,
        }
        for c in policy.changes.select_related("changed_by")[:50]
    ]
    return render(request, "network/policy_edit.html", {"form": form, "policy": policy, "history": history})
