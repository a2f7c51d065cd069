"""The referral directory (issue 18, 1): kept by the state admin and regional coordinators, stale or expired entries
flagged and suggested last, CSV import checked whole and CSV export."""

from __future__ import annotations

import csv
import datetime
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from governance import directory_csv, selectors, services
from governance.models import ResourceEntry
from network.models import Network, Region
from tests.support import make_resource, refused

pytestmark = pytest.mark.django_db


def network(world) -> Network:
    return Network.objects.get(pk=world.network_id)


def region(world, slug: str) -> Region:
    return Region.objects.get(network_id=world.network_id, slug=slug)


def upload(client, text: str):
    return client.post(
        "/network/directory/import/",
        {"file": SimpleUploadedFile("directory.csv", text.encode(), content_type="text/csv")},
        follow=True,
    )


def test_a_state_admin_adds_an_entry_with_every_field_the_issue_lists(client, world):
    client.force_login(world.state_admin)
    response = client.post(
        "/network/directory/new/",
        {
            "kind": "eap",
            "name": "Harbor EAP",
            "contact": "555-0199",
            "region": str(region(world, "south").pk),
            "disciplines": ["law", "corrections"],
            "serves_family": "on",
            "specialties": ["substance-use", "couples"],
            "methods": ["cbt"],
            "first_responder_trained": "on",
            "languages": "English, Spanish",
            "telehealth": "on",
            "insurance": "Aetna, Cigna",
            "eap_accepted": "on",
            "accepting_new_clients": "on",
            "wait_days": "21",
            "confirmed_on": timezone.localdate().isoformat(),
            "vetted_by": "State clinical panel",
            "vetted_on": timezone.localdate().isoformat(),
            "vetted_until": (timezone.localdate() + datetime.timedelta(days=365)).isoformat(),
            "active": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    entry = ResourceEntry.objects.get(name="Harbor EAP")
    assert (entry.disciplines, entry.languages, entry.insurance, entry.wait_days) == (
        ["corrections", "law"],
        ["English", "Spanish"],
        ["Aetna", "Cigna"],
        21,
    )
    assert entry.serves_family and not entry.serves_retirees and entry.telehealth and entry.eap_accepted


def test_a_regional_coordinator_keeps_only_their_regions_entries(world):
    south = make_resource(world, name="South Chaplaincy", region=region(world, "south"))
    statewide = make_resource(world, name="Statewide Line", region=None)
    for entry in (south, statewide):
        with refused("not_keeper"):
            services.resource_confirm(actor=world.regional_a, entry=entry, accepting_new_clients=True, wait_days=3)
    with refused("not_keeper"):  # nor move one of theirs into another region
        values = {name: getattr(world.resource, name) for name in services.RESOURCE_FIELDS}
        values["region"] = region(world, "south")
        services.resource_save(actor=world.regional_a, network=network(world), entry=world.resource, **values)
    north = make_resource(world, name="North Peer Clinic", region=region(world, "north"))
    confirmed = services.resource_confirm(
        actor=world.regional_a, entry=north, accepting_new_clients=False, wait_days=40
    )
    assert (confirmed.accepting_new_clients, confirmed.wait_days) == (False, 40)


def test_another_regions_entry_answers_404_to_a_regional_coordinator(client, world):
    south = make_resource(world, name="South Only", region=region(world, "south"))
    client.force_login(world.regional_a)
    assert client.get(f"/network/directory/{south.uuid}/").status_code == 404
    assert client.get(f"/network/directory/{world.resource.uuid}/").status_code == 200
    assert "South Only" not in client.get("/network/directory/").content.decode()


def test_stale_and_expired_entries_are_flagged_on_the_list_and_the_state_admins_home(client, world):
    old = timezone.localdate() - datetime.timedelta(days=91)
    make_resource(world, name="Stale Counselling", confirmed_on=old)
    make_resource(
        world,
        name="Lapsed Vetting",
        vetted_on=old - datetime.timedelta(days=400),
        vetted_until=timezone.localdate() - datetime.timedelta(days=1),
    )
    client.force_login(world.state_admin)
    page = client.get("/network/directory/?standing=flagged").content.decode()
    assert "Stale Counselling" in page and "Lapsed Vetting" in page
    assert "Unconfirmed 90+ days" in page and "Vetting expired" in page
    assert world.resource.name not in page
    home = client.get("/network/").content.decode()
    assert "2 to confirm or re-vet" in home


def test_confirming_an_entry_clears_its_stale_flag(client, world):
    entry = make_resource(world, name="Confirm Me", confirmed_on=timezone.localdate() - datetime.timedelta(days=120))
    assert ResourceEntry.objects.filter(pk=entry.pk).flagged().exists()
    client.force_login(world.state_admin)
    client.post(f"/network/directory/{entry.uuid}/confirm/", {"accepting_new_clients": "on", "wait_days": "5"})
    entry.refresh_from_db()
    assert entry.confirmed_on == timezone.localdate() and entry.wait_days == 5
    assert not ResourceEntry.objects.filter(pk=entry.pk).flagged().exists()


def test_suggestions_put_confirmed_entries_with_short_waits_first(world):
    make_resource(world, name="Long Wait", wait_days=60)
    make_resource(world, name="Short Wait", wait_days=2)
    make_resource(
        world, name="Stale But Quick", wait_days=0, confirmed_on=timezone.localdate() - datetime.timedelta(days=200)
    )
    make_resource(world, name="Full", accepting_new_clients=False, wait_days=1)
    names = [e.name for e in selectors.resources_suggested(network(world), specialty="trauma")]
    assert names.index("Short Wait") < names.index("North Trauma Clinic") < names.index("Long Wait")
    assert names.index("Long Wait") < names.index("Full") < names.index("Stale But Quick")


def test_suggestions_follow_discipline_region_need_and_language(world):
    make_resource(world, name="Police Only", disciplines=["law"])
    make_resource(world, name="South Clinic", region=region(world, "south"))
    make_resource(world, name="Hablamos", languages=["Spanish"], specialties=["grief"])
    found = {
        e.name
        for e in selectors.resources_suggested(
            network(world), discipline="fire", region_id=region(world, "north").pk, specialty="trauma"
        )
    }
    assert "North Trauma Clinic" in found and "Police Only" not in found and "South Clinic" not in found
    spanish = {e.name for e in selectors.resources_suggested(network(world), language="spanish")}
    assert spanish == {"Hablamos"}
    dispatch = {e.name for e in selectors.resources_suggested(network(world), discipline="law-enforcement")}
    assert "Police Only" in dispatch, "the standard's law-enforcement code matches the directory's"


def test_the_export_imports_back_and_a_good_file_adds_and_changes_entries(client, world):
    client.force_login(world.state_admin)
    exported = b"".join(client.get("/network/directory/directory.csv").streaming_content).decode()
    rows = list(csv.reader(io.StringIO(exported)))
    assert rows[0] == directory_csv.COLUMNS
    mine = next(r for r in rows if r[0] == str(world.resource.uuid))
    mine[directory_csv.COLUMNS.index("wait_days")] = "45"
    added = [
        "",
        "crisis-line",
        "Responder Lifeline",
        "988",
        "",
        "",
        "yes",
        "yes",
        "suicide-risk",
        "",
        "yes",
        "English;Spanish",
        "yes",
        "",
        "no",
        "yes",
        "0",
        timezone.localdate().isoformat(),
        "",
        "",
        "",
        "yes",
    ]
    out = io.StringIO()
    csv.writer(out).writerows([directory_csv.COLUMNS, mine, added])  # an upload the test builds, not an export
    response = upload(client, out.getvalue())
    assert "Directory updated from 2 row(s)." in response.content.decode()
    world.resource.refresh_from_db()
    assert world.resource.wait_days == 45
    assert ResourceEntry.objects.get(name="Responder Lifeline").languages == ["English", "Spanish"]


def test_one_bad_row_is_reported_by_line_and_nothing_is_imported(client, world):
    client.force_login(world.state_admin)
    header = ",".join(directory_csv.COLUMNS)
    today = timezone.localdate().isoformat()
    good = f",clinician,Good One,,,,no,no,trauma,,no,,no,,no,yes,3,{today},,,,yes"
    bad_kind = f",wizard,Bad Kind,,,,no,no,,,no,,no,,no,yes,3,{today},,,,yes"
    bad_region = f",clinician,Bad Region,,atlantis,,no,no,,,no,,no,,no,yes,3,{today},,,,yes"
    page = upload(client, "\n".join([header, good, bad_kind, bad_region]) + "\n").content.decode()
    assert "Nothing was imported: 2 problems" in page
    assert "Line 3: kind is one of" in page and "Line 4: region is the slug" in page
    assert not ResourceEntry.objects.filter(name="Good One").exists()


def test_directory_entries_hold_no_member_data():
    """Issue 18, "Must hold": the entry names the provider only; nothing about members or agencies."""
    names = {f.name for f in ResourceEntry._meta.get_fields()}
    assert not names & {"agency", "member", "encounter", "notes", "referrals"}
