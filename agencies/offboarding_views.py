"""The state admin's offboarding page: suspend, export, download, destroy (see agencies/offboarding.py)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache

from agencies import offboarding
from agencies.forms import DestroyForm
from agencies.models import Agency, AgencyExport
from network.access import network_view
from network.models import NetworkRole
from network.service_errors import message_service_error

STATE_ADMIN = NetworkRole.Role.STATE_ADMIN


def _agency(request: HttpRequest, agency_id: int) -> Agency:
    return get_object_or_404(Agency, pk=agency_id, network=request.network_roles[0].network)


@never_cache
@network_view(STATE_ADMIN)
def agency_offboarding(request: HttpRequest, agency_id: int) -> HttpResponse:
    agency = _agency(request, agency_id)
    destroy_form = DestroyForm(request.POST if request.POST.get("action") == "destroy" else None)
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action == "suspend":
                offboarding.agency_suspend(actor=request.user, agency=agency, request=request)
                messages.success(request, f"{agency.name} is suspended: its members can no longer open its pages.")
            elif action == "reinstate":
                offboarding.agency_reinstate(actor=request.user, agency=agency, request=request)
                messages.success(request, f"{agency.name} is active again.")
            elif action == "export":
                offboarding.export_request(actor=request.user, agency=agency, request=request)
                messages.success(request, "The export is being built; this page shows its progress.")
            elif action == "destroy":
                if not destroy_form.is_valid():
                    raise ValidationError("Type the agency's address to confirm.")
                offboarding.agency_destroy(
                    actor=request.user,
                    agency=agency,
                    confirm_slug=destroy_form.cleaned_data["confirm_slug"],
                    request=request,
                )
                messages.success(request, f"{agency.name}'s data is destroyed: its key is shredded, its schema gone.")
            else:
                raise Http404("Not found.")
        except ValidationError as error:
            if action == "destroy" and hasattr(error, "error_dict"):
                for field, errors in error.message_dict.items():
                    destroy_form.add_error(field if field in destroy_form.fields else None, errors)
            else:
                message_service_error(request, error)
        else:
            return redirect("network_agency_offboarding", agency_id=agency.pk)
    exports = list(agency.exports.select_related("requested_by")[:10])
    return render(
        request,
        "agencies/offboarding.html",
        {
            "agency": agency,
            "exports": exports,
            "destroy_form": destroy_form,
            "can_destroy": agency.status == Agency.Status.SUSPENDED
            and any(e.status == AgencyExport.Status.READY and e.downloaded_at for e in exports),
        },
    )


@never_cache
@network_view(STATE_ADMIN)
def agency_export_progress(request: HttpRequest, agency_id: int, export_id: int) -> HttpResponse:
    export = get_object_or_404(AgencyExport, pk=export_id, agency=_agency(request, agency_id))
    return render(request, "agencies/_export_row.html", {"export": export, "agency": export.agency})


@never_cache
@network_view(STATE_ADMIN)
def agency_export_download(request: HttpRequest, agency_id: int, export_id: int) -> HttpResponse:
    export = get_object_or_404(AgencyExport, pk=export_id, agency=_agency(request, agency_id))
    try:
        path = offboarding.export_path(export)
    except ValidationError:
        raise Http404("Not found.") from None
    if not path.exists():
        raise Http404("Not found.")
    offboarding.export_downloaded(actor=request.user, export=export, request=request)
    return FileResponse(path.open("rb"), as_attachment=True, filename=export.file_name, content_type="application/zip")
