"""Writes to the network's documentation standard (publishing versions of the shared vocabularies) and its
policy. Reading them is network.selectors: `standard_current`, `terms_by_vocabulary`, `policy_for`."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from network.audit import AuditAction, audit_record
from network.models import DocumentationStandard, Network, NetworkPolicy, PolicyChange, Vocabulary, VocabularyTerm
from network.selectors import standard_current
from network.validators import validate_single_line

# Version 1, from the field's common practice (../shared/DOMAIN.md).
DEFAULT_TERMS: dict[str, list[tuple[str, str]]] = {
    Vocabulary.DURATION_BAND: [
        ("under-15", "Under 15 min"),
        ("15-29", "15-29 min"),
        ("30-44", "30-44 min"),
        ("45-59", "45-59 min"),
        ("60-plus", "60 min or more"),
    ],
    Vocabulary.CONTACT_MODE: [("in-person", "In person"), ("phone", "Phone"), ("video", "Video"), ("text", "Text")],
    Vocabulary.INITIATOR: [
        ("self", "Member (self)"),
        ("peer-outreach", "Peer outreach"),
        ("supervisor-referral", "Supervisor referral"),
        ("activation", "Activation"),
        ("family", "Family"),
    ],
    Vocabulary.RECIPIENT_RELATION: [
        ("own-agency", "Own agency"),
        ("other-agency", "Other agency / mutual aid"),
        ("family", "Family member"),
        ("retiree", "Retiree"),
    ],
    Vocabulary.RECIPIENT_DISCIPLINE: [
        ("fire", "Fire"),
        ("ems", "EMS"),
        ("dispatch", "911 / dispatch"),
        ("law-enforcement", "Law enforcement"),
        ("corrections", "Corrections"),
        ("other", "Other"),
    ],
    Vocabulary.ROLE_CLASS: [
        ("sworn", "Sworn"),
        ("civilian", "Civilian"),
        ("dispatcher", "Dispatcher"),
        ("firefighter-ems", "Firefighter / EMS provider"),
        ("corrections-officer", "Corrections officer"),
        ("command", "Command staff"),
        ("other", "Other"),
    ],
    Vocabulary.TOPIC: [
        ("critical-incident", "Critical incident"),
        ("work-stress", "Work stress"),
        ("family-relationship", "Family / relationship"),
        ("finances", "Finances"),
        ("grief", "Grief"),
        ("substance-use", "Substance use"),
        ("health", "Health"),
        ("suicide-risk", "Suicide risk"),
        ("undisclosed", "Undisclosed"),
        ("other", "Other"),
    ],
    Vocabulary.INTERVENTION: [
        ("one-on-one", "One-on-one"),
        ("defusing", "Defusing"),
        ("debriefing", "Debriefing / CISD"),
        ("demobilization", "Demobilization / CMB"),
        ("family", "Family support"),
        ("follow-up", "Follow-up"),
        ("referral", "Referral"),
    ],
    Vocabulary.REFERRAL: [
        ("none", "None"),
        ("clinician", "Team clinician"),
        ("eap", "EAP"),
        ("chaplain", "Chaplain"),
        ("crisis-line", "Crisis line"),
    ],
}
# Vocabularies an encounter holds several codes of; the others hold exactly one.
MULTI_VALUED = frozenset({Vocabulary.TOPIC, Vocabulary.INTERVENTION})


def standard_publish(
    *, actor, network: Network, terms: dict[str, list[tuple[str, str] | tuple[str, str, str]]], request=None
) -> DocumentationStandard:
    """Publish the next version. `terms` maps every vocabulary to (code, label[, concept]) rows;
    concept defaults to the code, so an unchanged code keeps counting as the same concept."""
    missing = [v.label for v in Vocabulary if not terms.get(v)]
    if missing:
        raise ValidationError(f"Every vocabulary needs at least one term; empty: {', '.join(missing)}.")
    rows = []
    for vocabulary, entries in terms.items():
        if vocabulary not in Vocabulary.values:
            raise ValidationError(f"Unknown vocabulary {vocabulary!r}.")
        seen = set()
        for position, entry in enumerate(entries):
            code, label = slugify(entry[0]), entry[1].strip()
            concept = slugify(entry[2]) if len(entry) > 2 and entry[2] else code
            name = Vocabulary(vocabulary).label
            if not code or not label or not concept:
                raise ValidationError(f"{name}: every term needs a code and a label (letters or digits).")
            if len(code) > 40 or len(concept) > 40 or len(label) > 100:
                raise ValidationError(f"{name}: codes and concepts take 40 characters at most, labels 100.")
            try:
                validate_single_line(label)
            except ValidationError as error:
                raise ValidationError(f"{name}, label {label[:40]!r}: {error.messages[0]}", code=error.code) from None
            if code in seen:
                raise ValidationError(f"{Vocabulary(vocabulary).label}: the code {code!r} appears twice.")
            seen.add(code)
            rows.append((vocabulary, code, label, concept, position))
    if Vocabulary.TOPIC in terms and "undisclosed" not in {r[1] for r in rows if r[0] == Vocabulary.TOPIC}:
        raise ValidationError("Topics must keep 'undisclosed': members may decline to say what a contact was about.")
    with transaction.atomic():
        Network.objects.select_for_update().get(pk=network.pk)  # one publisher at a time per network
        current = DocumentationStandard.objects.filter(network=network).order_by("-version")
        version = (current.first().version + 1) if current.exists() else 1
        standard = DocumentationStandard.objects.create(network=network, version=version, published_by=actor)
        VocabularyTerm.objects.bulk_create(
            VocabularyTerm(standard=standard, vocabulary=v, code=c, label=lab, concept=con, position=p)
            for v, c, lab, con, p in rows
        )
        audit_record(action=AuditAction.STANDARD_PUBLISHED, actor=actor, obj=standard, request=request)
    return standard


def standard_ensure_default(*, network: Network) -> DocumentationStandard:
    """Publish version 1 from DEFAULT_TERMS if the network has no standard yet. Called when the network is
    created (`network.services.network_get_or_create`), never by a page: pages read `standard_current`."""
    return standard_current(network) or standard_publish(actor=None, network=network, terms=DEFAULT_TERMS)


def policy_ensure(*, network: Network) -> NetworkPolicy:
    """Give the network its policy (every setting at its default) if it has none. Called when the network is
    created, never by a page: pages read `network.selectors.policy_for`."""
    policy, _ = NetworkPolicy.objects.get_or_create(network=network)
    return policy


# The settings `policy_update` changes: the ones the state admin's policy page edits. Anything else on the
# row (its network, who changed it and when) is the service's to set, never a caller's.
POLICY_SETTINGS = frozenset(
    {
        "notes_enabled",
        "notes_retention_days",
        "followup_reminder_days",
        "suppression_threshold",
        "activation_retention_days",
        "confidentiality_notice_text",
        "account_inactive_days",
        "publication_delay_days",
        "callout_max_texts",
        "callout_max_calls",
        "request_first_contact_hours",
        "request_urgent_first_contact_minutes",
        "request_contact_retention_days",
        "privilege_profile",
        "privilege_designation_before_incident",
        "privilege_min_training_hours",
        "privilege_no_session_content",
    }
)


def policy_update(*, actor, network: Network, request=None, **changes) -> NetworkPolicy:
    """Change settings of the network policy; each changed setting is kept in its history. Only the settings
    in POLICY_SETTINGS can be changed: any other name is refused (TypeError, as for an unknown argument)."""
    refused = sorted(set(changes) - POLICY_SETTINGS)
    if refused:
        raise TypeError(f"policy_update() cannot set {', '.join(refused)}; it sets only {sorted(POLICY_SETTINGS)}.")
    with transaction.atomic():
        policy = NetworkPolicy.objects.select_for_update().get(network=network)
        history = []
        for name, value in changes.items():
            old = getattr(policy, name)
            if old != value:
                history.append(
                    PolicyChange(
                        policy=policy, setting=name, old_value=str(old), new_value=str(value), changed_by=actor
                    )
                )
            setattr(policy, name, value)
        policy.updated_by = actor
        policy.updated_at = timezone.now()
        policy.full_clean()
        policy.save()
        PolicyChange.objects.bulk_create(history)
        audit_record(action=AuditAction.POLICY_CHANGED, actor=actor, obj=policy, request=request)
    return policy
