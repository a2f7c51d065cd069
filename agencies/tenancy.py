"""Which schema the connection is in, made explicit: entering an agency's schema, checking it, and
visiting every active agency. The rules are in docs/tenancy.md.

- `agency_schema(agency)`: the one way code enters an agency's schema (besides the `/a/<slug>/`
  middleware). Agency-side services take `agency=` and run their body inside it, so callers never
  switch schemas by hand. Entering the schema the connection is already in (a view under
  `/a/<slug>/` calling a service) does nothing; entering from another agency's schema is refused.
- `require_agency_schema(agency)` (in network/tenancy.py, so that the encrypted field can ask it too):
  code that writes agency rows, or encrypts with the agency's key, checks the connection is in that
  agency's schema, so the agency it was given and the schema its rows land in can never disagree.
- `for_each_active_agency(work, what=...)`: every loop over the active agencies (beat tasks,
  snapshot runs) goes through it, with one failure policy.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from django.conf import settings
from django.db import connection
from django_tenants.utils import get_public_schema_name, get_tenant_model

from agencies.models import Agency
from network.tenancy import WrongSchemaError, in_schema_of, require_agency_schema

logger = logging.getLogger(__name__)

T = TypeVar("T")


class AgencyFailuresError(Exception):
    """Raised by `for_each_active_agency` after every agency had its turn, when some failed.
    `failures` lists (agency id, exception); the first failure is the `__cause__`."""

    def __init__(self, what: str, failures: list[tuple[int, Exception]]) -> None:
        self.failures = failures
        ids = ", ".join(str(agency_id) for agency_id, _ in failures)
        super().__init__(f"{what} failed for {len(failures)} agency(ies): {ids}")


@contextlib.contextmanager
def agency_schema(agency: Agency) -> Iterator[Agency]:
    """Run the block in `agency`'s schema, and return to where the connection was (public) afterwards.

    Already there (a view under /a/<slug>/, or a service calling another): nothing happens, not even
    a `SET search_path`. From public it switches in and back. From another agency's schema it raises
    WrongSchemaError: a request for one agency never writes into another's schema.
    """
    if in_schema_of(agency):
        require_agency_schema(agency)  # same schema name but not set as that agency: refuse
        yield agency
        return
    if connection.schema_name not in (None, get_public_schema_name()):
        raise WrongSchemaError(
            f"Entering agency {agency.pk}'s schema from schema {connection.schema_name!r}: "
            "agency code is entered from public only."
        )
    connection.set_tenant(agency)
    try:
        yield agency
    finally:
        connection.set_schema_to_public()


def agency_service(func: Callable[..., T]) -> Callable[..., T]:
    """Run a service that takes `agency=` (keyword) inside that agency's schema: `with agency_schema(agency)`
    around its whole body, so callers (views, tasks, tests) never enter the schema for it."""

    @functools.wraps(func)
    def wrapper(*args, agency: Agency, **kwargs):
        with agency_schema(agency):
            return func(*args, agency=agency, **kwargs)

    return wrapper


def active_agencies():
    """The agencies whose schemas scheduled work visits, in a stable order."""
    agency = get_tenant_model()
    return agency.objects.filter(status=agency.Status.ACTIVE).select_related("network").order_by("pk")


def for_each_active_agency(
    work: Callable[[Agency], T],
    *,
    what: str,
    agencies: Iterable[Agency] | None = None,
    on_failure: Callable[[Agency, Exception], None] | None = None,
) -> dict[int, T]:
    """Call `work(agency)` for each active agency, one after another; returns {agency id: result}.

    Called from public, and each call starts from public: `work` reaches the agency's rows through
    agency-side services, which enter the schema themselves, and writes public rows where they live.
    One agency failing never stops the others: its exception is logged with the agency's id (never its
    name) and the loop goes on. Without `on_failure`, the failures are raised together at the end as
    AgencyFailuresError, so the task fails visibly after every agency had its turn. With `on_failure`,
    the caller records each failure itself (a snapshot run stores them) and nothing is raised.
    `agencies` is the list to visit when the caller already listed them (to count them first).
    Every MUSTER_AGENCY_CONNECTION_RECYCLE agencies the connection is closed (outside a transaction), so
    the database backend's memory stays bounded however many schemas the loop visits.
    """
    public = get_public_schema_name()
    if connection.schema_name not in (None, public):
        raise WrongSchemaError(f"for_each_active_agency runs from public, not from {connection.schema_name!r}.")
    results: dict[int, T] = {}
    failures: list[tuple[int, Exception]] = []
    recycle = settings.MUSTER_AGENCY_CONNECTION_RECYCLE
    for visited, agency in enumerate(active_agencies() if agencies is None else agencies):
        if recycle and visited and visited % recycle == 0 and not connection.in_atomic_block:
            connection.close()  # a fresh backend: the last one's cache of every schema it touched goes with it
        try:
            results[agency.pk] = work(agency)
        except Exception as exc:  # one agency's failure must not cost the others their turn
            logger.exception("%s failed for agency %s", what, agency.pk)
            if on_failure is None:
                failures.append((agency.pk, exc))
            else:
                on_failure(agency, exc)
        finally:
            if connection.schema_name != public:  # whatever `work` did, the next agency starts from public
                connection.set_schema_to_public()
    if failures:
        raise AgencyFailuresError(what, failures) from failures[0][1]
    return results
