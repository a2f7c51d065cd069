"""Tenancy explicit and guarded (issue 14 §2, docs/tenancy.md): agency-side code enters its agency's schema
itself, checks it is there, the scheduled loops go through one helper, and the guards `public_only()` /
`only_schema(agency)` hold the leadership pages, the activation pages and the snapshot builders to their side."""

import datetime
import logging

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from activations import services as activation_services
from agencies.models import Agency, Role
from agencies.tenancy import AgencyFailuresError, agency_schema, for_each_active_agency
from encounters import maintenance, tasks
from encounters.models import Encounter
from network.models import Network
from network.tenancy import WrongSchemaError, require_agency_schema
from reporting import builder, publication
from reporting import services as reporting_services
from reporting.models import PeriodKind, Publication, SnapshotRun
from tests.support import (
    agency_url,
    entered,
    grow_roster,
    joined,
    log_encounter,
    only_schema,
    open_activation,
    public_only,
)

pytestmark = pytest.mark.django_db
Failed = pytest.fail.Exception


def count_in(agency) -> int:
    with tenant_context(agency):  # inspects raw agency rows
        return Encounter.objects.count()


def qualified(agency) -> str:
    return f'SELECT count(*) FROM "{agency.schema_name}".encounters_encounter'


# --- The guards catch what they are for ---------------------------------------------------------------------


def test_public_only_fails_a_query_on_an_agency_table(world):
    with pytest.raises(Failed, match="touched agency table encounters_encounter"), public_only():
        with connection.cursor() as cursor:
            cursor.execute(qualified(world.agency_a))


def test_public_only_fails_a_query_run_with_an_agency_search_path(world):
    with pytest.raises(Failed, match="ran in agency schema"), public_only(), tenant_context(world.agency_a):
        Agency.objects.count()  # a public table, but read from inside the agency's schema


def test_public_only_fails_the_test_even_when_the_code_swallows_the_failure(world):
    with pytest.raises(Failed, match="touched agency table"), public_only():
        try:
            with connection.cursor() as cursor:
                cursor.execute(qualified(world.agency_b))
        except BaseException:  # noqa: S110 - code under test that hides every error
            pass


def test_public_only_admits_public_reads_and_the_search_path_of_the_agency_a_page_is_routed_to(world):
    with public_only():
        Agency.objects.count()
    with public_only(routed_to=world.agency_a), tenant_context(world.agency_a):
        Agency.objects.count()
    with pytest.raises(Failed, match="ran in agency schema"):
        with public_only(routed_to=world.agency_a), tenant_context(world.agency_b):
            Agency.objects.count()
    with pytest.raises(Failed, match="touched agency table"):
        with public_only(routed_to=world.agency_a), tenant_context(world.agency_a):
            Encounter.objects.count()  # routed there, but its rows are still off limits


def test_only_schema_fails_an_agency_table_read_in_another_agencys_schema(world):
    with pytest.raises(Failed, match="encounters_encounter queried in schema"):
        with only_schema(world.agency_a), tenant_context(world.agency_b):
            Encounter.objects.count()


def test_only_schema_fails_an_agency_table_read_from_public(world):
    with pytest.raises(Failed, match="queried in schema 'public'"), only_schema(world.agency_a):
        with connection.cursor() as cursor:
            cursor.execute(qualified(world.agency_a))


def test_only_schema_admits_its_agencys_rows_and_public_tables_anywhere(world):
    with only_schema(world.agency_a):
        Agency.objects.count()
        with tenant_context(world.agency_a):
            Encounter.objects.count()
            Agency.objects.count()


def test_an_inner_guard_judges_its_own_block(world):
    with public_only():
        with only_schema(world.agency_a):
            log_encounter(world.agency_a, author=world.a[Role.PEER_SUPPORTER])
        Agency.objects.count()
    with pytest.raises(Failed, match="queried in schema"), public_only(), only_schema(world.agency_b):
        log_encounter(world.agency_a, author=world.a[Role.PEER_SUPPORTER])


# --- Agency-side services enter their schema; the schema must be the agency's ------------------------------


def test_a_service_enters_its_agencys_schema_itself_and_returns_to_public(world):
    before = count_in(world.agency_a), count_in(world.agency_b)
    log_encounter(world.agency_a, author=world.a[Role.PEER_SUPPORTER], notes="from public")
    assert connection.schema_name == "public"
    assert (count_in(world.agency_a), count_in(world.agency_b)) == (before[0] + 1, before[1])


def test_a_service_given_one_agency_refuses_to_write_into_anothers_schema(world):
    before = count_in(world.agency_b)
    with tenant_context(world.agency_b), pytest.raises(WrongSchemaError, match=f"agency {world.agency_a.pk}"):
        log_encounter(world.agency_a, author=world.a[Role.PEER_SUPPORTER])
    assert count_in(world.agency_b) == before


def test_entering_the_schema_the_connection_is_in_costs_no_query(world):
    with tenant_context(world.agency_a):
        Encounter.objects.count()  # the search path is set now
        with CaptureQueriesContext(connection) as captured, agency_schema(world.agency_a):
            Encounter.objects.count()
        assert connection.schema_name == world.agency_a.schema_name
    assert [q["sql"] for q in captured.captured_queries if "search_path" in q["sql"]] == []
    assert len(captured) == 1


def test_require_agency_schema_names_the_mismatch(world):
    with pytest.raises(WrongSchemaError, match="schema 'public'"):
        require_agency_schema(world.agency_a)
    with tenant_context(world.agency_a):
        require_agency_schema(world.agency_a)
        with pytest.raises(WrongSchemaError):
            require_agency_schema(world.agency_b)
    connection.set_schema(world.agency_a.schema_name)  # the schema by name, not as the agency
    with pytest.raises(WrongSchemaError):
        require_agency_schema(world.agency_a)


def test_the_encrypted_field_refuses_to_encrypt_outside_its_agencys_schema(world):
    """A schema entered by name has no agency: the notes would have gone under the network's key."""
    connection.set_schema(world.agency_a.schema_name)
    encounter = Encounter.objects.get(pk=world.encounter.pk)
    encounter.notes = "a new note"
    with pytest.raises(WrongSchemaError):
        encounter.save()


# --- One loop over the agencies -----------------------------------------------------------------------------


def test_one_failing_agency_does_not_stop_the_others_and_the_task_fails_at_the_end(world, monkeypatch, caplog):
    real, seen = maintenance.follow_up_reminders_send, []

    def send(*, agency, **kwargs):
        seen.append(agency.pk)
        if agency.pk == world.agency_a.pk:
            raise RuntimeError("schema unreadable")
        return real(agency=agency, **kwargs)

    monkeypatch.setattr(maintenance, "follow_up_reminders_send", send)
    with caplog.at_level(logging.ERROR, logger="agencies.tenancy"), pytest.raises(AgencyFailuresError) as raised:
        tasks.follow_up_reminders_task()
    assert seen.index(world.agency_a.pk) < seen.index(world.agency_b.pk)  # B had its turn after A failed
    assert [(agency_id, type(exc)) for agency_id, exc in raised.value.failures] == [(world.agency_a.pk, RuntimeError)]
    assert isinstance(raised.value.__cause__, RuntimeError)
    (record,) = [r for r in caplog.records if r.name == "agencies.tenancy"]
    assert str(world.agency_a.pk) in record.getMessage()
    assert world.agency_a.slug not in record.getMessage() and world.agency_a.name not in record.getMessage()


def test_each_agencys_turn_starts_from_public_and_the_loop_runs_from_public_only(world):
    def leaks(agency):
        schema = connection.schema_name
        connection.set_tenant(agency)  # forgets to leave
        return schema

    results = for_each_active_agency(leaks, what="leak", agencies=[world.agency_a, world.agency_b])
    assert results == {world.agency_a.pk: "public", world.agency_b.pk: "public"}
    assert connection.schema_name == "public"
    with tenant_context(world.agency_a), pytest.raises(WrongSchemaError):
        for_each_active_agency(lambda agency: None, what="nested")


# --- Leadership pages read public aggregates only --------------------------------------------------------------


@pytest.fixture
def published(world):
    """October published for a monthly agency A, so the dashboards have figures to show."""
    network = Network.objects.get(pk=world.network_id)
    joined(world.agency_a, datetime.date(2026, 7, 1))
    joined(world.agency_b, datetime.date(2026, 7, 1))
    grow_roster(world.agency_a, 8)
    entered(world.agency_a, author=world.a[Role.PEER_SUPPORTER], on=datetime.date(2026, 10, 20), contact_mode="video")
    reporting_services.publication_publish_due(network=network, today=datetime.date(2026, 11, 20))
    assert Publication.objects.filter(network=network, period_kind=PeriodKind.MONTH).exists()
    return network


AGENCY_LEADERSHIP = ["agency_dashboard", "agency_dashboard_csv"]
NETWORK_LEADERSHIP = ["/network/dashboard/", "/network/dashboard/export.csv"]


@pytest.mark.parametrize("role", [Role.CHIEF, Role.COORDINATOR, Role.AGENCY_ADMIN])
@pytest.mark.parametrize("page", AGENCY_LEADERSHIP)
def test_agency_dashboards_read_no_agency_rows(client, world, published, role, page):
    client.force_login(world.a[role])
    with public_only(routed_to=world.agency_a):
        response = client.get(agency_url(world.agency_a, page))
    assert response.status_code == 200


@pytest.mark.parametrize("who", ["state_admin", "regional_a"])
@pytest.mark.parametrize("page", NETWORK_LEADERSHIP)
def test_regional_and_network_dashboards_stay_in_public(client, world, published, who, page):
    client.force_login(getattr(world, who))
    with public_only():
        response = client.get(page)
    assert response.status_code == 200


def test_the_snapshot_run_pages_stay_in_public(client, world):
    client.force_login(world.state_admin)
    with public_only():
        response = client.post("/network/dashboard/rebuild/")
        run = SnapshotRun.objects.latest("pk")
        assert client.get(response["Location"]).status_code == 200
        assert client.get(f"/network/dashboard/runs/{run.pk}/").status_code == 200


def test_the_activation_summary_for_chiefs_stays_in_public(client, world):
    activation_services.activation_close(actor=world.a[Role.COORDINATOR], activation=world.activation)
    client.force_login(world.a[Role.CHIEF])
    with public_only():
        response = client.get(f"/activations/{world.activation.uuid}/summary/")
        listing = client.get("/activations/")
    assert response.status_code == 200 and listing.status_code == 200
    assert "Affected members" in response.content.decode()


# --- Activation pages stay in public --------------------------------------------------------------------------


def test_the_coordinators_activation_pages_stay_in_public(client, world):
    activation = open_activation(world, participating=[world.agency_b])
    base = f"/activations/{activation.uuid}/"
    client.force_login(world.a[Role.COORDINATOR])
    with public_only():
        for page in ("", "board/", "board/live/", "summary/", "members/add/"):
            assert client.get(base + page, follow=True).status_code == 200, page
        added = client.post(
            base + "members/add/",
            {"home_agency": world.agency_a.pk, "exposure": "direct", "pasted": "Maria Lopez, engineer"},
        )
        assert added.status_code == 302
        target = activation.targets.get()
        assign = f"{base}members/{target.uuid}/assign/"
        assert client.get(assign).status_code == 200
        supporter = world.a[Role.PEER_SUPPORTER]
        assert client.post(assign, {"supporter": f"{supporter.pk}:{world.agency_a.pk}"}).status_code == 302
        outreach = client.post(f"{base}members/{target.uuid}/outreach/", {"status": "attempted"})
        assert outreach.status_code == 302
    target.refresh_from_db()
    assert (target.assigned_supporter, target.status) == (supporter, "attempted")


def test_the_supporters_activation_pages_stay_in_public(client, world):
    base = f"/activations/{world.activation.uuid}/"
    client.force_login(world.a[Role.PEER_SUPPORTER])
    with public_only():
        assert client.get(base, follow=True).status_code == 200
        assert client.get(base + "mine/").status_code == 200
        answered = client.post(base + "mine/", {"answer": "available", "involved": ""})
        assert answered.status_code in (200, 302)
        outreach = client.post(f"{base}members/{world.target.uuid}/outreach/", {"status": "attempted"})
        assert outreach.status_code == 302


# --- The snapshot and publication builders read each agency in its own schema --------------------------------


def guard_each_agency(monkeypatch, module, name):
    """Wrap `module.name(agency, ...)` so every call may touch that agency's rows in its schema only."""
    real, calls = getattr(module, name), []

    def guarded(agency, *args, **kwargs):
        calls.append(agency.pk)
        with only_schema(agency):
            return real(agency, *args, **kwargs)

    monkeypatch.setattr(module, name, guarded)
    return calls


def test_a_snapshot_run_reads_each_agency_only_in_its_own_schema(world, monkeypatch):
    calls = guard_each_agency(monkeypatch, builder, "agency_metrics")
    with public_only():
        run = reporting_services.run_execute(run_id=reporting_services.run_request(enqueue=False).pk)
    assert run.status == SnapshotRun.Status.DONE and run.failures == []
    assert {world.agency_a.pk, world.agency_b.pk} <= set(calls)


def test_a_snapshot_refresh_reads_its_agency_only_in_its_schema(world, monkeypatch):
    log_encounter(world.agency_a, author=world.a[Role.PEER_SUPPORTER])  # marks A stale
    calls = guard_each_agency(monkeypatch, builder, "agency_metrics")
    with public_only():
        assert reporting_services.agency_snapshot_refresh(agency_id=world.agency_a.pk) is True
    assert calls == [world.agency_a.pk]


def test_publishing_reads_each_agency_only_in_its_own_schema(world, monkeypatch):
    network = Network.objects.get(pk=world.network_id)
    joined(world.agency_a, datetime.date(2026, 7, 1))
    joined(world.agency_b, datetime.date(2026, 7, 1))
    grow_roster(world.agency_a, 8)
    entered(world.agency_a, author=world.a[Role.PEER_SUPPORTER], on=datetime.date(2026, 10, 20))
    calls = guard_each_agency(monkeypatch, publication, "agency_counts")
    with public_only():
        made = reporting_services.publication_publish_due(network=network, today=datetime.date(2026, 11, 20))
    assert made and {world.agency_a.pk, world.agency_b.pk} <= set(calls)
