"""A starting point for protocols, following the CISM / ICISF timeline (../shared/DOMAIN.md):
demobilization right after, defusing within about 12 hours, debriefing 1 to 10 days after,
follow-ups at set intervals. The state admin edits them for the network; nothing applies them
until they are saved."""

from __future__ import annotations

from governance.models import IncidentType

COMMON_STEPS = """3h Demobilization / crisis management briefing
12h Defusing with the crews involved
1d-10d Debriefing (CISD)
2d One-on-one and family support offered to every affected member"""

EXTRA_STEPS = {
    IncidentType.OFFICER_INVOLVED_SHOOTING: "24h Peer contact for involved officers (never a witness supporter)",
    IncidentType.LINE_OF_DUTY_DEATH: "24h Family liaison and peer support for the family\n7d Funeral support plan",
    IncidentType.MASS_CASUALTY: "24h Dispatchers and support staff included in outreach",
    IncidentType.MAJOR_FIRE: "24h Rehab and mutual-aid crews included in outreach",
    IncidentType.CORRECTIONS_DISTURBANCE: "12h Every shift on duty accounted for in outreach",
    IncidentType.IN_CUSTODY_DEATH: "12h Every shift on duty accounted for in outreach",
    IncidentType.MEMBER_SUICIDE: "24h Clinician consulted on postvention\n3d Crew and academy class outreach",
}

DEFAULT_FOLLOW_UP_DAYS = "7, 30, 90"


def default_steps(incident_type: str) -> str:
    extra = EXTRA_STEPS.get(incident_type)
    return COMMON_STEPS + (f"\n{extra}" if extra else "")


def default_name(incident_type: str) -> str:
    return f"{IncidentType(incident_type).label} protocol"
