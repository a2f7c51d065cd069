"""Single-line text (titles, names, labels) refuses line breaks, tabs and other control characters,
in the forms with a clear message and in the services that validate models, so a title can never
again hold the newline that made Django refuse the agreement expiry e-mail."""

from __future__ import annotations

import datetime

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from activations.forms import ActivationOpenForm, MembersAddForm
from agencies.forms import AgencyCreateForm, InvitationAcceptForm
from agencies.models import Agency
from agencies.roster.forms import ProfileForm
from governance import services as governance_services
from governance.forms import AgreementForm, ProtocolForm
from governance.models import Agreement
from network import selectors, standards
from network.forms import parse_terms
from network.models import Network, Region, Vocabulary
from network.validators import CONTROL_CHARACTERS, validate_single_line
from tests.support import agreement_record, make_agency, open_activation, refused, signed_pdf

pytestmark = pytest.mark.django_db

BREAKS = ["\n", "\r", "\r\n", "\t", "\x0b", "\x1b", "\x7f", "\x85", "\u2028", "\u2029"]
SINGLE_LINE_FORM_FIELDS = [
    (AgreementForm, "title"),
    (ProtocolForm, "name"),
    (ActivationOpenForm, "name"),
    (ActivationOpenForm, "location"),
    (MembersAddForm, "name"),
    (MembersAddForm, "role"),
    (AgencyCreateForm, "name"),
    (InvitationAcceptForm, "full_name"),
    (ProfileForm, "languages"),
]


def test_every_c0_control_del_c1_and_unicode_separator_is_refused_and_plain_text_is_not():
    assert {chr(c) for c in range(0x20)} | {"\x7f", "\u2028", "\u2029"} <= CONTROL_CHARACTERS
    for character in CONTROL_CHARACTERS:
        with pytest.raises(ValidationError):
            validate_single_line(f"Mutual aid{character}Bcc: someone@example.org")
    validate_single_line("Route 9 bus crash – 5:40 «Nord» (Zoë, 日本)")  # no exception


@pytest.mark.parametrize(("form", "name"), SINGLE_LINE_FORM_FIELDS, ids=lambda v: getattr(v, "__name__", v))
def test_single_line_form_fields_refuse_a_line_break_with_a_clear_message(form, name):
    field = form.base_fields[name]
    for character in BREAKS:
        with pytest.raises(ValidationError) as refused:
            field.clean(f"First line{character}second line")
        assert "Keep this to one line of plain text" in " ".join(refused.value.messages)
    assert field.clean("  One line  ") == "One line"  # surrounding whitespace is still stripped


def test_a_newline_in_an_agreement_title_is_refused_in_the_browser_form_with_a_message(client, world):
    client.force_login(world.state_admin)
    response = client.post(
        "/network/agreements/new/",
        {
            "title": "Alpha and Bravo\nBcc: someone@example.org",
            "parties": [world.agency_a.pk, world.agency_b.pk],
            "scopes": ["cross-agency-outreach"],
            "effective_on": "2026-01-01",
            "expires_on": "2027-12-31",
            "document": signed_pdf("scan.pdf"),
        },
    )
    assert response.status_code == 200
    assert "Keep this to one line of plain text: remove the line break." in response.content.decode()
    assert not Agreement.objects.filter(title__startswith="Alpha and Bravo").exists()


def test_the_agreement_service_refuses_a_title_that_would_lose_its_expiry_email(
    world, settings, django_capture_on_commit_callbacks
):
    """Django refuses to send a subject holding a newline; the notice used to be marked sent and lost."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    governance_services.agreement_revoke(actor=world.state_admin, agreement=world.agreement)
    soon = timezone.localdate() + datetime.timedelta(days=12)
    for title in ("Renewal\nBcc: someone@example.org", "Renewal\u2028two", "Renewal\tthree"):
        with pytest.raises(ValidationError) as refused:
            agreement_record(world, [world.agency_a, world.agency_b], title=title, expires_on=soon)
        assert "title" in refused.value.message_dict
    assert not Agreement.objects.filter(title__startswith="Renewal").exists()

    agreement = agreement_record(
        world, [world.agency_a, world.agency_b], title="Renewal of mutual aid", expires_on=soon
    )
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert governance_services.agreements_expiry_notify() == 1
    assert [message.subject for message in mail.outbox] == [
        f"Muster: the agreement “{agreement.title}” expires in 12 days"
    ]


def test_services_that_validate_their_models_refuse_control_characters(world):
    network = Network.objects.get(pk=world.network_id)
    with pytest.raises(ValidationError) as refused:
        open_activation(world, name="Route 9\nbus crash")
    assert "name" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        open_activation(world, location="Route 9\x1b[2J")
    assert "location" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        make_agency(actor=world.state_admin, network=network, region=world.agency_a.region, slug="ctrl-fire",
                    name="Ctrl\nFire")  # fmt: skip
    assert "name" in refused.value.message_dict
    assert not Agency.objects.filter(slug="ctrl-fire").exists()
    with pytest.raises(ValidationError) as refused:
        governance_services.protocol_save(
            actor=world.state_admin, network=network, incident_type="mci", name="Mass\ncasualty", steps=[],
            follow_up_days=[],
        )  # fmt: skip
    assert "name" in refused.value.message_dict
    with pytest.raises(ValidationError):
        Region(network=network, name="North\u2029East", slug="north-east").full_clean()


def test_checklist_steps_and_vocabulary_labels_refuse_control_characters(world):
    with refused("step_control_character") as caught:
        governance_services.parse_steps("3h Demobilization\n12h Defusing\tnow")
    assert caught.value.error_list[0].params == {"line": 2}
    with refused("single_line") as caught:
        parse_terms("phone | Phone\nvideo | Video\tcall", Vocabulary.CONTACT_MODE, {})
    assert caught.value.messages[0].startswith("Contact mode, line 2: ")  # the sentence names the line
    network = Network.objects.get(pk=world.network_id)
    terms = {
        v: [(t.code, t.label, t.concept) for t in ts]
        for v, ts in selectors.terms_by_vocabulary(selectors.standard_current(network)).items()
    }
    terms[Vocabulary.CONTACT_MODE] = [("phone", "Phone\x85call")]
    with refused("single_line"):
        standards.standard_publish(actor=world.state_admin, network=network, terms=terms)


def test_a_pasted_list_of_members_refuses_control_characters_within_a_line(world):
    agencies = Agency.objects.filter(pk=world.agency_a.pk)
    data = {"home_agency": world.agency_a.pk, "exposure": "direct", "pasted": "Pat Doe, engineer\nSam\x1bRoe"}
    form = MembersAddForm(data, agencies=agencies)
    assert not form.is_valid()
    assert form.errors["pasted"] == [
        "Line 2: Keep this to one line of plain text: "
        "remove the invisible character U+001B (retype the text around it)."
    ]
    data["pasted"] = "Pat Doe, engineer\r\nSam Roe"
    assert MembersAddForm(data, agencies=agencies).is_valid()
