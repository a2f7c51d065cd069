"""The layering (docs/architecture.md) holds, and the linter that holds it can fail.

`./dev test` runs `lint-imports` before pytest; these tests prove that the contracts in .importlinter
catch an upward import, including one hidden inside a function, and that what moved keeps working
under its old name where something outside the code may still hold that name.
"""

from __future__ import annotations

import datetime
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.utils import timezone

ROOT = Path(__file__).resolve().parent.parent
APPS = [
    "network",
    "agencies",
    "governance",
    "activations",
    "members",
    "encounters",
    "reporting",
    "portal",
    "demo",
    "config",
]
LINT_IMPORTS = os.path.join(os.path.dirname(sys.executable), "lint-imports")


def _lint(tree: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [LINT_IMPORTS, "--config", ".importlinter", "--no-cache"],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def tree_copy(tmp_path_factory) -> Path:
    tree = tmp_path_factory.mktemp("layers")
    for app in APPS:
        shutil.copytree(ROOT / app, tree / app, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / ".importlinter", tree / ".importlinter")
    return tree


def test_the_code_as_it_is_keeps_every_contract(tree_copy):
    result = _lint(tree_copy)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 2 kept, 0 broken." in result.stdout


@pytest.mark.parametrize(
    ("module", "source", "broken"),
    [
        ("network/_probe_top.py", "from reporting import services\n", "network is not allowed to import reporting"),
        (
            "agencies/_probe_inside.py",
            "def later():\n    from activations.services import assignments_return_for_suspended_agency\n",
            "agencies is not allowed to import activations",
        ),
        ("encounters/_probe_demo.py", "import demo.encounters\n", "demo"),
    ],
    ids=["upward-at-top", "upward-inside-a-function", "anything-importing-the-demo"],
)
def test_an_import_that_runs_up_breaks_the_contract(tree_copy, module, source, broken):
    probe = tree_copy / module
    probe.write_text(source)
    try:
        result = _lint(tree_copy)
    finally:
        probe.unlink()
    assert result.returncode != 0
    assert broken in result.stdout
    assert module.removesuffix(".py").replace("/", ".") in result.stdout


def test_the_agreement_expiry_task_does_its_work_under_its_old_name_too(db, world):
    """Beat entries and outbox rows written before the move name agencies.tasks.agreements_expiry_task."""
    from celery import current_app

    from governance.models import Agreement
    from tests.support import agreement_record

    current_app.loader.import_default_modules()  # every app's tasks, as a worker imports them at start
    Agreement.objects.filter(expiry_notice_sent_on__isnull=True).update(expiry_notice_sent_on=timezone.localdate())
    soon = agreement_record(
        world, [world.agency_a, world.agency_b], expires_on=timezone.localdate() + datetime.timedelta(days=12)
    )
    assert current_app.tasks["agencies.tasks.agreements_expiry_task"].apply().get() == 1
    soon.refresh_from_db()
    assert soon.expiry_notice_sent_on == timezone.localdate()
    # The new name is the same work: nothing is left to tell.
    assert current_app.tasks["governance.tasks.agreements_expiry_task"].apply().get() == 0
