"""Demo governance: collaboration agreements (one expiring soon, one waiting for approval) and a
protocol for every incident type. Runs before the demo activations, which need the agreements."""

from __future__ import annotations

import datetime

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from agencies.models import Agency, Membership, Role
from governance import defaults, services
from governance.models import ActivationProtocol, Agreement, IncidentType, Scope
from network.models import Network, User

JOINT = [Scope.JOINT_ACTIVATION, Scope.CROSS_AGENCY_OUTREACH]
AGREEMENTS = [
    # title, party slugs, scopes, years in force before today, days until expiry (None: no end)
    (
        "North Region peer support mutual aid",
        ["riverton-fire", "riverton-police", "north-county-ems"],
        [*JOINT, Scope.DATA_SHARING],
        2,
        21,
    ),
    (
        "South Region public safety peer support compact",
        ["southport-police", "south-county-ems", "harbor-county-jail", "south-county-911"],
        JOINT,
        1,
        730,
    ),
    ("Capital City fire and 911 joint response", ["capital-city-fire", "capital-city-911"], JOINT, 1, None),
    # Regional deployment (issue 19): Riverton may ask Capital City Fire and South County EMS for peer supporters.
    (
        "Statewide peer team deployment mutual aid",
        ["riverton-fire", "capital-city-fire", "south-county-ems"],
        [Scope.JOINT_ACTIVATION],
        1,
        365,
    ),
]
PROPOSED = ("Central State Prison and Capital City Fire mutual aid", ["central-state-prison", "capital-city-fire"])


def _signed_document(title: str) -> SimpleUploadedFile:
    """A one-page PDF standing in for the signed scan."""
    text = f"(Signed agreement: {title}) Tj"
    stream = f"BT /F1 12 Tf 72 720 Td {text} ET".encode()
    body = (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
        b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]/Contents 4 0 R"
        b"/Resources<</Font<</F1 5 0 R>>>>>>endobj\n"
        b"4 0 obj<</Length " + str(len(stream)).encode() + b">>stream\n" + stream + b"\nendstream endobj\n"
        b"5 0 obj<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    )
    return SimpleUploadedFile(f"{title.lower().replace(' ', '-')}.pdf", body, content_type="application/pdf")


def seed_governance(*, network: Network, agencies: dict[str, Agency], state_admin: User) -> int:
    """Create what is missing; returns how many agreements and protocols were created."""
    created = 0
    today = timezone.localdate()
    for title, slugs, scopes, years, expires_in in AGREEMENTS:
        if Agreement.objects.filter(network=network, title=title).exists():
            continue
        services.agreement_record(
            actor=state_admin,
            network=network,
            title=title,
            network_wide=False,
            parties=[agencies[slug] for slug in slugs],
            scopes=scopes,
            effective_on=today - datetime.timedelta(days=365 * years),
            expires_on=today + datetime.timedelta(days=expires_in) if expires_in is not None else None,
            document=_signed_document(title),
        )
        created += 1
    title, slugs = PROPOSED
    if not Agreement.objects.filter(network=network, title=title).exists():
        proposer_agency = agencies[slugs[0]]
        admin = Membership.objects.filter(agency=proposer_agency, role=Role.AGENCY_ADMIN).first()
        services.agreement_record(
            actor=admin.user if admin else state_admin,
            network=network,
            title=title,
            network_wide=False,
            parties=[agencies[slug] for slug in slugs],
            scopes=JOINT,
            effective_on=today,
            expires_on=today + datetime.timedelta(days=3 * 365),
            document=_signed_document(title),
            proposing_agency=proposer_agency if admin else None,
        )
        created += 1
    for incident_type in IncidentType.values:
        if ActivationProtocol.objects.filter(network=network, incident_type=incident_type).exists():
            continue
        services.protocol_save(
            actor=state_admin,
            network=network,
            incident_type=incident_type,
            name=defaults.default_name(incident_type),
            steps=services.parse_steps(defaults.default_steps(incident_type)),
            follow_up_days=services.parse_follow_up_days(defaults.DEFAULT_FOLLOW_UP_DAYS),
        )
        created += 1
    return created
