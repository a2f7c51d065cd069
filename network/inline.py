"""Child rows read in their parent's statement: `inline_rows` annotates a queryset with the rows of a related
queryset as a JSON array (one correlated subquery, no second statement), and `inline_instances` turns that
array back into model instances the templates use as if they had been prefetched.

This is how a page with several short related lists stays within its statement budget (tests/
test_query_budget.py): `prefetch_related` costs one statement per relation. Use it for short lists shown
whole (a checklist, a member's scheduled follow-ups), not for lists that page. The instances are read-only
views of their rows: they carry the fields asked for and nothing else (a field not asked for reads as its
default, not from the database), so save nothing through them.

    targets = OutreachTarget.objects.annotate(
        scheduled=inline_rows(TargetFollowUp.objects.filter(target=OuterRef("pk")).order_by("due_on"),
                              "id", "target_id", "due_on", "days_after", "done_at")
    )
    inline_instances(TargetFollowUp, target.scheduled)  # -> [TargetFollowUp, ...]

A field path through a foreign key (`done_by__full_name`) fills that attribute of the related instance
(`item.done_by.full_name`); the related instance exists only when its key (`done_by_id`) is not null.
"""

from __future__ import annotations

from typing import Any

from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import F, Model, QuerySet
from django.db.models.functions import JSONObject


def inline_rows(queryset: QuerySet, *fields: str) -> ArraySubquery:
    """The rows of `queryset` (correlated to the outer query with OuterRef), each a JSON object of `fields`,
    as one array column of the outer statement. Keeps `queryset`'s order."""
    if not fields:
        raise ValueError("inline_rows needs the fields to read.")
    return ArraySubquery(queryset.values(row=JSONObject(**{f: F(f) for f in fields})))


def inline_instances(model: type[Model], rows: list[dict[str, Any]] | None) -> list[Model]:
    """Model instances (not saved, not to be saved) from the rows `inline_rows` read."""
    instances = []
    for row in rows or ():
        own: dict[str, Any] = {}
        related: dict[str, dict[str, Any]] = {}
        for key, value in row.items():
            name, _sep, rest = key.partition("__")
            if rest:
                related.setdefault(name, {})[rest] = value
            else:
                own[model._meta.get_field(name).attname] = _python(model, name, value)
        instance = model(**own)
        for name, values in related.items():
            field = model._meta.get_field(name)
            if own.get(field.attname) is None:
                continue  # a null foreign key: no related object, as select_related would leave it
            target = field.related_model
            fields = {k: _python(target, k, v) for k, v in values.items()}
            setattr(instance, name, target(pk=own[field.attname], **fields))
        instances.append(instance)
    return instances


def _python(model: type[Model], name: str, value: Any) -> Any:
    """A JSON value as the field's Python value (dates and times arrive as ISO 8601 text)."""
    if value is None:
        return None
    return model._meta.get_field(name).to_python(value)
