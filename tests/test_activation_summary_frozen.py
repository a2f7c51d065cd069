"""Chiefs' activation summaries: nothing while the activation runs, then one version computed at close
with the suppression engine and never changed, whose status table passes the linear-programming audit."""

import datetime
import re

import numpy as np
import pytest
from django.db.models import F
from scipy.optimize import linprog

from activations import services
from activations.models import Activation, OutreachTarget
from agencies.models import Role
from network import standards
from network.models import Network
from tests.support import agency_url, open_activation

pytestmark = pytest.mark.django_db


def main(page: bytes) -> str:
    """The page's own content (the header's sign-out form carries a fresh CSRF token on every request)."""
    return re.search(r"<main.*?</main>", page.decode(), re.S).group(0)


def activation_with(world, *, declined=0, attempted=0, pending=0, contacted=0):
    """An activation led by A whose affected members stand at the given statuses."""
    activation = open_activation(world, participating=[world.agency_b])
    coordinator, supporter = world.a[Role.COORDINATOR], world.a[Role.PEER_SUPPORTER]
    total = declined + attempted + pending + contacted
    targets = services.targets_add(
        actor=coordinator,
        activation=activation,
        home_agency=world.agency_a,
        entries=[(f"Member {n}", "") for n in range(total)],
        exposure="direct",
    )
    for n, target in enumerate(targets):
        if n < declined + attempted + contacted:
            services.target_assign(actor=coordinator, target=target, supporter=supporter, expected_supporter_id=None)
        if n < declined:
            services.outreach_update(actor=supporter, target=target, status="declined")
        elif n < declined + attempted:
            services.outreach_update(actor=supporter, target=target, status="attempted")
        elif n < declined + attempted + contacted:
            services.outreach_contact_logged(
                actor=supporter, agency=world.agency_a, target=target, referred=False, follow_up_due_on=None
            )
    return activation, targets


def close(world, activation):
    return services.activation_close(actor=world.a[Role.COORDINATOR], activation=activation)


def test_a_chief_gets_404_on_an_open_activations_summary(client, world):
    activation, _targets = activation_with(world, declined=1, pending=7)
    client.force_login(world.a[Role.CHIEF])
    assert client.get(f"/activations/{activation.uuid}/summary/").status_code == 404
    assert client.get(f"/activations/{activation.uuid}/").status_code == 404
    # Nothing links a chief to it: not their home page, not the activation list.
    home = client.get(agency_url(world.agency_a, "agency_home")).content.decode()
    listing = client.get("/activations/").content.decode()
    assert activation.name in home and f"/activations/{activation.uuid}/" not in home
    assert activation.name in listing and f"/activations/{activation.uuid}/" not in listing
    # Coordinators keep the live numbers.
    client.force_login(world.a[Role.COORDINATOR])
    page = client.get(f"/activations/{activation.uuid}/summary/").content.decode()
    assert "Declined</th><td>1</td>" in page


def test_after_close_the_chiefs_summary_never_changes(client, world):
    activation, targets = activation_with(world, declined=1, attempted=2, pending=7)
    close(world, activation)
    client.force_login(world.a[Role.CHIEF])
    listing = client.get("/activations/").content.decode()
    assert f"/activations/{activation.uuid}/" in listing  # closed: now it opens
    first = client.get(f"/activations/{activation.uuid}/summary/")
    assert first.status_code == 200
    assert main(client.get(f"/activations/{activation.uuid}/summary/").content) == main(first.content)
    # Later changes: a member's status moves after close, the network raises its threshold.
    services.outreach_update(actor=world.a[Role.COORDINATOR], target=targets[-1], status="declined")
    standards.policy_update(
        actor=world.state_admin, network=Network.objects.get(pk=world.network_id), suppression_threshold=10
    )
    assert main(client.get(f"/activations/{activation.uuid}/summary/").content) == main(first.content)
    assert "Counts from 1 to 4 are suppressed" in first.content.decode()


def attacker_intervals(published: dict) -> dict[str, tuple[float, float]]:
    """What a solver gets from the frozen leadership figures: one unknown per status (>= 0) plus the
    members without a planned follow-up; shown statuses are themselves, they add up to the affected
    members, planned follow-ups are some of those members."""
    statuses = [status for status, _value in published["by_status"]]
    size = len(statuses) + 2  # statuses, planned, unplanned
    rows, rhs = [], []
    for n, (_status, value) in enumerate(published["by_status"]):
        if value is not None:
            rows.append(np.eye(size)[n])
            rhs.append(value)
    members = np.concatenate([np.ones(len(statuses)), [0, 0]])
    if published["affected_members"] is not None:
        rows.append(members)
        rhs.append(published["affected_members"])
    rows.append(members - np.concatenate([np.zeros(len(statuses)), [1, 1]]))  # planned + unplanned = members
    rhs.append(0)
    if published["follow_ups_planned"] is not None:
        rows.append(np.eye(size)[len(statuses)])
        rhs.append(published["follow_ups_planned"])
    intervals = {}
    for n, (status, value) in enumerate(published["by_status"]):
        if value is None:
            low = linprog(np.eye(size)[n], A_eq=np.array(rows), b_eq=np.array(rhs), bounds=(0, None), method="highs")
            high = linprog(-np.eye(size)[n], A_eq=np.array(rows), b_eq=np.array(rhs), bounds=(0, None), method="highs")
            assert low.status == 0 and high.status in (0, 3)
            intervals[status] = (low.fun, float("inf") if high.status == 3 else -high.fun)
    return intervals


def test_the_frozen_leadership_table_passes_the_linear_programming_audit(world):
    activation, _targets = activation_with(world, declined=1, attempted=2, pending=7)
    activation = close(world, activation)
    published = activation.summary["published"]
    assert [status for status, _value in published["by_status"]] == list(OutreachTarget.Status.values)
    assert published["affected_members"] == 10
    shown = dict(published["by_status"])
    assert shown["declined"] is None and shown["attempted"] is None and shown["contacted"] == 0  # zeros stay
    intervals = attacker_intervals(published)
    assert intervals and min(high - low for low, high in intervals.values()) >= published["threshold"] - 1e-6


def test_the_old_leadership_table_fails_the_same_audit():
    """What the old rule published for 7 pending and 1 declined (a zero as complement): the declined
    count lies in 0..1, far narrower than the threshold."""
    statuses = list(OutreachTarget.Status.values)
    old = {"pending": 7, "attempted": None, "contacted": 0, "declined": None, "referred": 0}
    published = {"by_status": [[s, old[s]] for s in statuses], "affected_members": 8, "follow_ups_planned": 0}
    assert attacker_intervals(published)["declined"] == (0, 1)


def test_the_median_is_hidden_when_fewer_contacts_than_the_threshold(client, world):
    activation, _targets = activation_with(world, contacted=1, pending=6)
    activation = close(world, activation)
    assert activation.summary["first_contacts"] == 1
    assert activation.summary["median_minutes_to_first_contact"] is not None
    assert activation.summary["published"]["median_minutes_to_first_contact"] is None
    client.force_login(world.a[Role.CHIEF])
    page = client.get(f"/activations/{activation.uuid}/summary/").content.decode()
    assert re.search(r'muster-stat__value">suppressed</span> <span class="muster-stat__label">Median', page)


def test_the_median_is_shown_from_the_threshold_on(world):
    activation, _targets = activation_with(world, contacted=5)
    activation = close(world, activation)
    assert activation.summary["published"]["median_minutes_to_first_contact"] is not None


def test_the_median_time_to_first_contact_is_never_negative(world):
    """A contact recorded before the member was listed (a list typed in after the night's calls)
    counts as immediate, not as minus hours."""
    activation, _targets = activation_with(world, contacted=5)
    listed_late = OutreachTarget.objects.filter(activation=activation, first_contact_at__isnull=False)
    assert listed_late.update(added_at=F("first_contact_at") + datetime.timedelta(hours=3)) == 5
    activation = close(world, activation)
    assert activation.summary["median_minutes_to_first_contact"] == 0


def test_a_summary_closed_before_freezing_is_shown_through_the_same_engine(client, world):
    activation, _targets = activation_with(world, declined=1, pending=7)
    activation = close(world, activation)
    summary = dict(activation.summary)
    del summary["published"], summary["first_contacts"]
    Activation.objects.filter(pk=activation.pk).update(summary=summary)
    client.force_login(world.a[Role.CHIEF])
    page = client.get(f"/activations/{activation.uuid}/summary/").content.decode()
    assert "Declined</th><td>suppressed</td>" in page and "Pending</th><td>suppressed</td>" in page
