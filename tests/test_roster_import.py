"""Roster import from CSV (all rows checked, nothing applied on any error) and the network directory."""

import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from agencies.models import Certification, Role, SupporterProfile
from tests.support import agency_url

pytestmark = pytest.mark.django_db
HEADER = "email,designated_on,availability,languages,certification,certified_on,expires_on\n"


def upload(client, world, text: str | bytes):
    data = text.encode() if isinstance(text, str) else text
    return client.post(
        agency_url(world.agency_a, "agency_roster_import"),
        {"file": SimpleUploadedFile("roster.csv", data, content_type="text/csv")},
        follow=True,
    )


def test_a_good_file_updates_every_supporter(client, world):
    client.force_login(world.a[Role.COORDINATOR])
    supporter = world.a[Role.PEER_SUPPORTER]
    csv = HEADER + f"{supporter.email.upper()},2024-01-15,on_leave,Spanish;ASL,cism-group,2025-02-01,2028-02-01\n"
    response = upload(client, world, csv)
    assert "Roster updated from 1 row(s)." in response.content.decode()
    profile = SupporterProfile.objects.get(membership__user=supporter, membership__agency=world.agency_a)
    assert (profile.designated_on, profile.availability, profile.languages) == (
        datetime.date(2024, 1, 15),
        "on_leave",
        ["Spanish", "ASL"],
    )
    assert Certification.objects.filter(membership=profile.membership, kind="cism-group").exists()


def test_one_bad_row_is_reported_by_line_and_nothing_is_applied(client, world):
    client.force_login(world.a[Role.COORDINATOR])
    before = SupporterProfile.objects.get(
        membership__user=world.a[Role.PEER_SUPPORTER], membership__agency=world.agency_a
    ).availability
    csv = (
        HEADER
        + f"{world.a[Role.PEER_SUPPORTER].email},2024-01-15,unavailable,,,,\n"
        + "stranger@elsewhere.example,2024-01-15,available,,,,\n"
        + f"{world.a[Role.COORDINATOR].email},15/01/2024,available,,,,\n"
    )
    page = upload(client, world, csv).content.decode()
    assert "Nothing was imported: 2 problems" in page
    assert "Line 3: no peer supporter or coordinator of this agency has this e-mail" in page
    assert "Line 4: designated_on must be a date" in page
    assert (
        SupporterProfile.objects.get(
            membership__user=world.a[Role.PEER_SUPPORTER], membership__agency=world.agency_a
        ).availability
        == before
    )


@pytest.mark.parametrize(
    "content, message",
    [
        ("name,email\nx,y\n", "The first line must be exactly"),
        (b"\xff\xfe\x00bad", "not UTF-8"),
        # A lone carriage return (the fuzzer's find): once a 500 "new-line character seen in unquoted field".
        ("email,avail\rability\n", "The first line must be exactly"),
        ('"email\rx,y', "The first line must be exactly"),
    ],
)
def test_a_wrong_file_is_explained(client, world, content, message):
    client.force_login(world.a[Role.COORDINATOR])
    assert message in upload(client, world, content).content.decode()


def test_the_directory_lists_ready_supporters_across_agencies_with_work_contact_only(client, world):
    Certification.objects.filter(membership__user=world.b[Role.COORDINATOR]).update(
        expires_on=timezone.localdate() - datetime.timedelta(days=1)
    )
    SupporterProfile.objects.filter(membership__user=world.b[Role.PEER_SUPPORTER]).update(languages=["Vietnamese"])
    client.force_login(world.a[Role.COORDINATOR])
    page = client.get(agency_url(world.agency_a, "agency_directory")).content.decode()
    assert world.b[Role.PEER_SUPPORTER].email in page
    assert world.b[Role.COORDINATOR].email not in page  # training expired: not ready
    filtered = client.get(agency_url(world.agency_a, "agency_directory") + "?language=vietnam").content.decode()
    assert world.b[Role.PEER_SUPPORTER].email in filtered and world.a[Role.PEER_SUPPORTER].email not in filtered
    by_discipline = client.get(agency_url(world.agency_a, "agency_directory") + "?discipline=fire").content.decode()
    assert world.b[Role.PEER_SUPPORTER].email not in by_discipline


def test_an_optional_disciplines_column_records_cross_trained_supporters(client, world):
    client.force_login(world.a[Role.COORDINATOR])
    supporter = world.a[Role.PEER_SUPPORTER]
    csv = HEADER.rstrip("\n") + ",disciplines\n" + f"{supporter.email},2024-01-15,available,,,,,fire;ems\n"
    response = upload(client, world, csv)
    assert "Roster updated from 1 row(s)." in response.content.decode()
    profile = SupporterProfile.objects.get(membership__user=supporter, membership__agency=world.agency_a)
    assert profile.disciplines == ["ems", "fire"]

    bad = HEADER.rstrip("\n") + ",disciplines\n" + f"{supporter.email},2024-01-15,available,,,,,fire;paramedic\n"
    report = upload(client, world, bad).content.decode()
    assert "Line 2: disciplines are any of" in report
    profile.refresh_from_db()
    assert profile.disciplines == ["ems", "fire"]


def test_the_directory_finds_a_supporter_by_a_discipline_of_their_own(client, world):
    from tests.support import make_ready

    supporter = world.membership(world.agency_a, Role.PEER_SUPPORTER)  # agency A is a fire department
    make_ready(supporter)
    client.force_login(world.b[Role.COORDINATOR])
    directory = agency_url(world.agency_b, "agency_directory") + "?discipline=ems"
    assert supporter.user.full_name not in client.get(directory).content.decode()
    SupporterProfile.objects.filter(membership=supporter).update(disciplines=["fire", "ems"])
    page = client.get(directory).content.decode()
    assert supporter.user.full_name in page and "Fire, EMS" in page
