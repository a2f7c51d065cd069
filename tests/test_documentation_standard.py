"""The state admin's documentation standard (versioned vocabularies) and network policy pages."""

from __future__ import annotations

import pytest

from agencies.models import Role
from network.audit import AuditAction
from network.models import (
    DEFAULT_CONFIDENTIALITY_NOTICE,
    AuditEvent,
    DocumentationStandard,
    Network,
    NetworkPolicy,
    PolicyChange,
    Vocabulary,
)
from network.selectors import standard_current, terms_by_vocabulary
from network.services import network_get_or_create
from network.standards import DEFAULT_TERMS

pytestmark = pytest.mark.django_db

STANDARD = "/network/standard/"
PUBLISH = "/network/standard/new/"
POLICY = "/network/policy/"
# The policy settings these tests do not change, at their defaults.
POLICY_TEXT_DEFAULTS = {
    "account_inactive_days": "90",
    "publication_delay_days": "7",
    "confidentiality_notice_text": DEFAULT_CONFIDENTIALITY_NOTICE,
}


@pytest.fixture
def network(world) -> Network:
    return Network.objects.get(pk=world.network_id)


@pytest.fixture
def admin_client(client, world):
    client.force_login(world.state_admin)
    return client


def _form_data(admin_client) -> dict[str, str]:
    """The publish form exactly as the page prefills it."""
    form = admin_client.get(PUBLISH).context["form"]
    return {name: form[name].value() for name in form.fields}


def _replace_line(text: str, code: str, new_line: str) -> str:
    lines = text.splitlines()
    index = next(i for i, line in enumerate(lines) if line.split("|")[0].strip() == code)
    lines[index] = new_line
    return "\n".join(lines)


def _versions(network) -> list[int]:
    return list(
        DocumentationStandard.objects.filter(network=network).order_by("version").values_list("version", flat=True)
    )


def _policy_changes() -> int:
    return AuditEvent.objects.filter(action=AuditAction.POLICY_CHANGED).count()


def test_state_admin_sees_the_current_version_and_its_terms(admin_client, network):
    standard = standard_current(network)
    response = admin_client.get(STANDARD)
    page = response.content.decode()
    assert response.status_code == 200
    assert f"<dd>{standard.version}</dd>" in page
    for vocabulary in Vocabulary:
        assert vocabulary.label in page
    assert '<th scope="row" data-label="Code"><code>undisclosed</code></th>' in page
    assert 'data-label="Label">Family / relationship</td>' in page
    assert f'href="{PUBLISH}"' in page


def test_a_new_network_starts_with_version_one_and_the_default_policy(admin_client, monkeypatch):
    """Created with the network (not by the first page that reads them: GET pages never write)."""
    fresh = network_get_or_create(name="Fresh Network", slug="fresh-network")
    assert _versions(fresh) == [1]
    assert standard_current(fresh).terms.count() == sum(len(terms) for terms in DEFAULT_TERMS.values())
    policy = NetworkPolicy.objects.get(network=fresh)
    assert (policy.notes_enabled, policy.suppression_threshold) == (False, 5)
    monkeypatch.setattr("network.views_standard.network_current", lambda: fresh)
    page = admin_client.get(STANDARD).content.decode()
    assert "Muster (the default standard)" in page
    assert "None: this is the first version." in page
    assert network_get_or_create(name="Fresh Network", slug="fresh-network") == fresh
    assert _versions(fresh) == [1]  # getting it again publishes nothing more


def test_publish_form_is_prefilled_with_one_term_per_line(admin_client, network):
    data = _form_data(admin_client)
    assert "undisclosed | Undisclosed | undisclosed" in data[Vocabulary.TOPIC].splitlines()
    assert set(data) == set(Vocabulary.values)


def test_publishing_a_renamed_term_with_its_old_concept_maps_it_across_versions(admin_client, network, world):
    old = standard_current(network)
    data = _form_data(admin_client)
    data[Vocabulary.TOPIC] = _replace_line(
        data[Vocabulary.TOPIC], "family-relationship", "relationships | Relationships | family-relationship"
    )
    response = admin_client.post(PUBLISH, data)
    new = standard_current(network)
    assert response.status_code == 302
    assert response["Location"] == STANDARD
    assert new.version == old.version + 1
    assert new.published_by == world.state_admin
    topics = {t.code: t for t in terms_by_vocabulary(new)[Vocabulary.TOPIC]}
    assert "family-relationship" not in topics
    assert topics["relationships"].label == "Relationships"
    assert topics["relationships"].concept == "family-relationship"
    page = admin_client.get(response["Location"]).content.decode()
    assert f"Version {new.version} of the documentation standard is published." in page
    assert AuditEvent.objects.filter(action=AuditAction.STANDARD_PUBLISHED, object_id=str(new.pk)).exists()


def test_publishing_a_new_version_leaves_the_old_one_untouched(admin_client, network):
    old = standard_current(network)
    before = [(t.vocabulary, t.code, t.label, t.concept, t.position) for t in old.terms.all()]
    data = _form_data(admin_client)
    data[Vocabulary.TOPIC] = _replace_line(data[Vocabulary.TOPIC], "grief", "loss | Loss and grief | grief")
    data[Vocabulary.CONTACT_MODE] += "\nradio | Radio"
    assert admin_client.post(PUBLISH, data).status_code == 302
    old.refresh_from_db()
    assert [(t.vocabulary, t.code, t.label, t.concept, t.position) for t in old.terms.all()] == before
    new_modes = {t.code: t.concept for t in terms_by_vocabulary(standard_current(network))[Vocabulary.CONTACT_MODE]}
    assert new_modes["radio"] == "radio"  # a new code is its own concept


def test_a_kept_code_without_a_concept_keeps_the_concept_it_had(admin_client, network):
    data = _form_data(admin_client)
    data[Vocabulary.TOPIC] = _replace_line(data[Vocabulary.TOPIC], "grief", "loss | Loss | grief")
    assert admin_client.post(PUBLISH, data).status_code == 302
    data = _form_data(admin_client)
    data[Vocabulary.TOPIC] = _replace_line(data[Vocabulary.TOPIC], "loss", "loss | Loss and grief")
    assert admin_client.post(PUBLISH, data).status_code == 302
    topics = {t.code: t.concept for t in terms_by_vocabulary(standard_current(network))[Vocabulary.TOPIC]}
    assert topics["loss"] == "grief"


def test_blank_lines_are_ignored(admin_client, network):
    old = standard_current(network)
    data = _form_data(admin_client)
    data[Vocabulary.REFERRAL] = "\n\n  \n" + data[Vocabulary.REFERRAL].replace("\n", "\n\n") + "\n\n"
    assert admin_client.post(PUBLISH, data).status_code == 302
    new = standard_current(network)
    assert [t.code for t in terms_by_vocabulary(new)[Vocabulary.REFERRAL]] == [
        t.code for t in terms_by_vocabulary(old)[Vocabulary.REFERRAL]
    ]


@pytest.mark.parametrize(
    "vocabulary, edit, message",
    [
        (
            Vocabulary.CONTACT_MODE,
            lambda text: text + "\n\nradio without a separator",
            "Contact mode, line 6: separate the code and the label with “|”",
        ),
        (Vocabulary.REFERRAL, lambda text: "", "Referral: list at least one term."),
        (Vocabulary.REFERRAL, lambda text: "\n  \n", "Referral: list at least one term."),
        (
            Vocabulary.CONTACT_MODE,
            lambda text: text + "\nphone | Telephone",
            "Contact mode, line 5: the code “phone” is already used on line 2.",
        ),
        (Vocabulary.CONTACT_MODE, lambda text: text + "\n!!! | Bangs", "Contact mode, line 5: the code needs letters"),
        (Vocabulary.CONTACT_MODE, lambda text: text + "\nradio |  ", "Contact mode, line 5: the label is missing."),
        (Vocabulary.CONTACT_MODE, lambda text: text + "\na | b | c | d", "line 5: use at most three parts"),
        (Vocabulary.CONTACT_MODE, lambda text: text + "\nradio | Radio | ???", "the concept needs letters or digits"),
        (Vocabulary.CONTACT_MODE, lambda text: text + "\n" + "x" * 41 + " | Long", "longer than 40 characters"),
        (Vocabulary.CONTACT_MODE, lambda text: text + "\nradio | " + "R" * 101, "longer than 100 characters"),
        (
            Vocabulary.TOPIC,
            lambda text: "\n".join(line for line in text.splitlines() if not line.startswith("undisclosed")),
            "Topics must keep &#x27;undisclosed&#x27;",
        ),
    ],
)
def test_a_bad_list_is_explained_and_publishes_nothing(admin_client, network, vocabulary, edit, message):
    versions = _versions(network)
    data = _form_data(admin_client)
    data[vocabulary] = edit(data[vocabulary])
    response = admin_client.post(PUBLISH, data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert "Nothing was published." in response.content.decode()
    assert _versions(network) == versions


def test_a_line_error_is_shown_beside_its_own_list(admin_client, network):
    data = _form_data(admin_client)
    data[Vocabulary.INITIATOR] += "\nnonsense"
    form = admin_client.post(PUBLISH, data).context["form"]
    assert list(form.errors) == [Vocabulary.INITIATOR.value]
    assert "Who initiated, line 6" in form.errors[Vocabulary.INITIATOR][0]


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"topic": "\x00 | nul"},
        {v: "\u00a0|\u00a0" for v in Vocabulary.values},
        {v: "ﬁ" * 30 + " | ligatures grow when slugified" for v in Vocabulary.values},
        {v: "\n".join(f"t{i} | T{i}" for i in range(300)) for v in Vocabulary.values},
        {v: "|" * 5000 for v in Vocabulary.values},
        {"unknown": "a | b", **{v: "a | b" for v in Vocabulary.values}},
    ],
)
def test_garbage_never_breaks_the_publish_page(admin_client, network, data):
    versions = _versions(network)
    response = admin_client.post(PUBLISH, data)
    assert response.status_code == 200
    assert _versions(network) == versions


def test_policy_form_saves_the_settings_and_audits_the_change(admin_client, network, world):
    before = _policy_changes()
    response = admin_client.post(
        POLICY,
        {
            "notes_enabled": "on",
            "notes_retention_days": "90",
            "followup_reminder_days": "3",
            "suppression_threshold": "7",
            "activation_retention_days": "60",
            **POLICY_TEXT_DEFAULTS,
        },
    )
    assert response.status_code == 302
    policy = NetworkPolicy.objects.get(network=network)
    assert (policy.notes_enabled, policy.notes_retention_days, policy.followup_reminder_days) == (True, 90, 3)
    assert (policy.suppression_threshold, policy.activation_retention_days) == (7, 60)
    assert policy.updated_by == world.state_admin
    assert _policy_changes() == before + 1
    event = AuditEvent.objects.filter(action="policy.changed").latest("id")
    assert (event.actor, event.object_id) == (world.state_admin, str(policy.pk))
    page = admin_client.get(POLICY).content.decode()
    assert "The network policy is saved." in page
    assert f"by {world.state_admin.get_full_name()}." in page
    assert 'name="notes_enabled" id="id_notes_enabled" aria-describedby="id_notes_enabled_helptext" checked>' in page


def test_notes_stay_off_unless_the_network_turns_them_on(admin_client, monkeypatch):
    fresh = network_get_or_create(name="Fresh Network", slug="fresh-network")  # its policy at the defaults
    monkeypatch.setattr("network.views_standard.network_current", lambda: fresh)
    page = admin_client.get(POLICY).content.decode()
    assert "Notes are privileged records" in page
    assert 'name="notes_enabled"' in page
    assert (
        'type="checkbox" name="notes_enabled" id="id_notes_enabled" aria-describedby="id_notes_enabled_helptext">'
        in page
    )


@pytest.mark.parametrize(
    "field, value",
    [
        ("notes_retention_days", "0"),
        ("notes_retention_days", "3651"),
        ("followup_reminder_days", "31"),
        ("followup_reminder_days", "-1"),
        ("notes_retention_days", "many"),
        ("suppression_threshold", "1"),
        ("suppression_threshold", "21"),
        ("activation_retention_days", "0"),
        ("account_inactive_days", "0"),
        ("account_inactive_days", "91"),
        ("publication_delay_days", "0"),
        ("publication_delay_days", "61"),
    ],
)
def test_policy_values_out_of_range_are_refused(admin_client, network, field, value):
    before = _policy_changes()
    data = {
        "notes_retention_days": "30",
        "followup_reminder_days": "1",
        "suppression_threshold": "5",
        "activation_retention_days": "90",
        **POLICY_TEXT_DEFAULTS,
        field: value,
    }
    response = admin_client.post(POLICY, data)
    assert response.status_code == 200
    assert response.context["form"].errors[field]
    assert _policy_changes() == before


def test_saving_an_unchanged_policy_records_nothing(admin_client, monkeypatch):
    fresh = network_get_or_create(name="Fresh Network", slug="fresh-network")  # its policy at the defaults
    monkeypatch.setattr("network.views_standard.network_current", lambda: fresh)
    before = _policy_changes()
    response = admin_client.post(
        POLICY,
        {
            "notes_retention_days": "30",
            "followup_reminder_days": "1",
            "suppression_threshold": "5",
            "activation_retention_days": "90",
            **POLICY_TEXT_DEFAULTS,
        },
    )
    assert response.status_code == 302
    assert _policy_changes() == before


def test_state_admin_network_page_links_to_the_standard_and_the_policy(admin_client):
    page = admin_client.get("/network/").content.decode()
    assert f'href="{STANDARD}">Documentation standard</a>' in page
    assert f'href="{POLICY}">Network policy</a>' in page


@pytest.mark.parametrize("path", [STANDARD, PUBLISH, POLICY])
@pytest.mark.parametrize("who", [Role.CHIEF, Role.COORDINATOR, "regional"])
def test_chiefs_coordinators_and_regional_coordinators_get_404(client, world, network, path, who):
    user = world.regional_a if who == "regional" else world.a[who]
    client.force_login(user)
    versions, changes = _versions(network), _policy_changes()
    assert client.get(path).status_code == 404
    assert client.post(path, {"notes_retention_days": "5", "followup_reminder_days": "0"}).status_code == 404
    assert _versions(network) == versions
    assert _policy_changes() == changes


def test_every_policy_change_is_kept_with_who_and_when(admin_client, network, world):
    admin_client.post(
        POLICY,
        {
            "notes_retention_days": "45",
            "followup_reminder_days": "1",
            "suppression_threshold": "5",
            "activation_retention_days": "90",
            **POLICY_TEXT_DEFAULTS,
        },
    )
    change = PolicyChange.objects.filter(policy__network=network).latest("changed_at")
    assert (change.setting, change.old_value, change.new_value, change.changed_by) == (
        "notes_retention_days",
        "30",
        "45",
        world.state_admin,
    )
    page = admin_client.get(POLICY).content.decode()
    assert "Keep notes for (days)" in page and '<td data-label="To">45</td>' in page
