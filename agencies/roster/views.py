"""The peer team roster: designation, training and availability, kept by coordinators and agency admins."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from agencies.access import agency_view
from agencies.models import Discipline, Role, SupporterProfile
from agencies.roster import imports, services
from agencies.roster.forms import CertificationForm, ProfileForm, RosterFilterForm, RosterImportForm
from agencies.roster.selectors import readiness_problem, roster_confirmation_due, roster_filtered
from agencies.selectors import supporters_of, supporting_memberships
from network.models import Region
from network.paging import page_of
from network.service_errors import add_service_errors

ROSTER_KEEPERS = (Role.COORDINATOR, Role.AGENCY_ADMIN)


def _roster(agency):
    return (
        supporters_of(agency)
        .select_related("user", "profile")
        .prefetch_related("certifications")
        .order_by("user__full_name")
    )


@agency_view(*ROSTER_KEEPERS)
def roster_list(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    form = RosterFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_bound and form.is_valid() else {}
    rows = [
        {"membership": m, "problem": readiness_problem(m, on=today), "certifications": list(m.certifications.all())}
        for m in roster_filtered(_roster(request.tenant), filters)
    ]
    # Readiness is worked out here (designation, current training, availability on `today`), so that filter
    # and the count run over the matching rows, and the page is cut from them: a roster is one agency's team.
    ready = sum(1 for row in rows if not row["problem"])
    total = len(rows)
    if filters.get("readiness"):
        rows = [row for row in rows if bool(row["problem"]) == (filters["readiness"] == "not-ready")]
    page = page_of(request, rows)
    return render(
        request,
        "agencies/roster_list.html",
        {
            "rows": page,
            "page": page,
            "form": form,
            "ready": ready,
            "total": total,
            "today": today,
            "confirmation_due": roster_confirmation_due(request.tenant),
        },
    )


@require_POST
@agency_view(*ROSTER_KEEPERS)
def roster_confirm(request: HttpRequest) -> HttpResponse:
    services.roster_confirm(actor=request.user, agency=request.tenant, request=request)
    messages.success(request, "Thank you: the roster is confirmed current for this quarter.")
    return redirect("agency_roster", agency_slug=request.tenant.slug)


@agency_view(*ROSTER_KEEPERS)
def roster_member(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = get_object_or_404(_roster(request.tenant), pk=membership_id)  # another agency's id: 404
    profile = getattr(membership, "profile", None)
    initial = {
        "designated_on": profile.designated_on if profile else None,
        "availability": profile.availability if profile else SupporterProfile.Availability.AVAILABLE,
        "on_leave_until": profile.on_leave_until if profile else None,
        "languages": ", ".join(profile.languages) if profile else "",
        "disciplines": profile.disciplines if profile else [],
    }
    profile_form = ProfileForm(request.POST if "save_profile" in request.POST else None, initial=initial)
    cert_form = CertificationForm(request.POST if "add_certification" in request.POST else None)
    if request.method == "POST":
        form = profile_form if "save_profile" in request.POST else cert_form
        if form.is_bound and form.is_valid():
            try:
                if form is profile_form:
                    services.profile_update(
                        actor=request.user, membership=membership, request=request, **form.cleaned_data
                    )
                else:
                    services.certification_add(
                        actor=request.user, membership=membership, request=request, **form.cleaned_data
                    )
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                messages.success(request, f"Saved for {membership.user.get_full_name()}.")
                return redirect("agency_roster_member", agency_slug=request.tenant.slug, membership_id=membership.pk)
    return render(
        request,
        "agencies/roster_member.html",
        {
            "member": membership,
            "profile_form": profile_form,
            "cert_form": cert_form,
            "certifications": membership.certifications.all(),
            "problem": readiness_problem(membership),
            "today": timezone.localdate(),
        },
    )


@agency_view(*ROSTER_KEEPERS)
def roster_import_view(request: HttpRequest) -> HttpResponse:
    form = RosterImportForm(request.POST or None, request.FILES or None)
    report = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > 1_000_000:
            form.add_error("file", "The file is larger than 1 MB; split it.")
        else:
            report = imports.roster_import(
                actor=request.user, agency=request.tenant, content=upload.read(), request=request
            )
            if not report.errors:
                messages.success(request, f"Roster updated from {report.applied} row(s).")
                return redirect("agency_roster", agency_slug=request.tenant.slug)
    return render(request, "agencies/roster_import.html", {"form": form, "report": report, "columns": imports.COLUMNS})


@agency_view(Role.COORDINATOR)
def directory(request: HttpRequest) -> HttpResponse:
    """Ready supporters across the network for mutual aid: work contact only."""
    network = request.tenant.network
    discipline = request.GET.get("discipline", "")
    region = request.GET.get("region", "")
    language = request.GET.get("language", "").strip().lower()
    members = (
        supporting_memberships()
        .filter(agency__network=network, agency__status="active")
        .select_related("user", "agency__region", "profile")
        .prefetch_related("certifications")
        .order_by("agency__name", "user__full_name")
    )
    if discipline in dict(Discipline.choices):
        # The supporter's own disciplines when recorded, otherwise their agency's.
        members = members.filter(
            Q(profile__disciplines__contains=[discipline])
            | (Q(agency__discipline=discipline) & (Q(profile__isnull=True) | Q(profile__disciplines=[])))
        )
    if region.isascii() and region.isdigit():  # isdigit() alone admits "²", which int() refuses
        members = members.filter(agency__region_id=int(region))
    people = []
    for m in members:
        if readiness_problem(m):
            continue
        languages = [lang.lower() for lang in (m.profile.languages if hasattr(m, "profile") else [])]
        if language and not any(language in lang for lang in languages):
            continue
        served = m.profile.served_disciplines() if hasattr(m, "profile") else [m.agency.discipline]
        m.discipline_labels = [Discipline(d).label for d in served]
        people.append(m)
    return render(
        request,
        "agencies/directory.html",
        {
            "people": people,
            "disciplines": Discipline.choices,
            "regions": Region.objects.filter(network=network),
            "filters": {"discipline": discipline, "region": region, "language": request.GET.get("language", "")},
        },
    )
