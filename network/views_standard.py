"""The state admin's pages for the network's documentation standard (versioned vocabularies) and policy."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from network.access import network_view
from network.forms import PolicyForm, StandardPublishForm
from network.models import DocumentationStandard, Network, NetworkRole, Vocabulary
from network.privilege import PROFILES, profile_of
from network.selectors import network_current, policy_for, standard_current, terms_by_vocabulary
from network.service_errors import add_service_errors
from network.standards import MULTI_VALUED, policy_update, standard_publish

STATE_ADMIN = NetworkRole.Role.STATE_ADMIN


def _network() -> Network:
    network = network_current()
    if network is None:
        raise Http404("Not found.")
    return network


def _vocabularies(standard: DocumentationStandard) -> list[dict]:
    grouped = terms_by_vocabulary(standard)
    return [
        {"value": v.value, "label": v.label, "multi": v in MULTI_VALUED, "terms": grouped[v.value]} for v in Vocabulary
    ]


@network_view(STATE_ADMIN)
def standard_detail(request: HttpRequest) -> HttpResponse:
    network = _network()
    standard = standard_current(network)
    earlier = network.standards.exclude(pk=standard.pk).select_related("published_by").order_by("-version")
    return render(
        request,
        "network/standard_detail.html",
        {"standard": standard, "vocabularies": _vocabularies(standard), "earlier": earlier},
    )


@network_view(STATE_ADMIN)
def standard_publish_view(request: HttpRequest) -> HttpResponse:
    network = _network()
    current = standard_current(network)
    form = StandardPublishForm(request.POST or None, current=terms_by_vocabulary(current))
    if request.method == "POST" and form.is_valid():
        terms = {v.value: form.cleaned_data[v.value] for v in Vocabulary}
        try:
            standard = standard_publish(actor=request.user, network=network, terms=terms, request=request)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"Version {standard.version} of the documentation standard is published.")
            return redirect("network_standard")
    return render(request, "network/standard_publish.html", {"form": form, "current": current})


@network_view(STATE_ADMIN)
def policy_edit(request: HttpRequest) -> HttpResponse:
    network = _network()
    policy = policy_for(network)
    initial = {name: getattr(policy, name) for name in PolicyForm.base_fields}
    form = PolicyForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        # An optional setting left out of the post keeps its value.
        changes = {name: value for name, value in form.cleaned_data.items() if value is not None}
        if all(getattr(policy, name) == value for name, value in changes.items()):
            messages.info(request, "Nothing changed; the network policy is as it was.")
            return redirect("network_policy")
        try:
            policy_update(actor=request.user, network=network, request=request, **changes)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, "The network policy is saved.")
            return redirect("network_policy")
    labels = {name: field.label for name, field in PolicyForm.base_fields.items()}
    history = [
        {
            "setting": labels.get(c.setting, c.setting),
            "old": c.old_value,
            "new": c.new_value,
            "by": c.changed_by.get_full_name() if c.changed_by else "system",
            "at": c.changed_at,
        }
        for c in policy.changes.select_related("changed_by")[:50]
    ]
    profiles = [*PROFILES.values(), profile_of(policy)] if policy.privilege_profile == "custom" else PROFILES.values()
    return render(
        request,
        "network/policy_edit.html",
        {"form": form, "policy": policy, "history": history, "profiles": profiles},
    )
