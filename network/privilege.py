"""State privilege profiles: the rules under which a peer support conversation stays privileged, as the network
policy sets them (`NetworkPolicy.privilege_profile`, versioned with the rest of the policy). Statutes and what each
rule means: docs/privilege.md.

A profile says what the software enforces:
- `designation_before_incident`: a supporter designated after the incident's start is not assigned to it;
- `min_training_hours`: current certifications must add up to at least this many hours;
- witnesses, parties and the member's supervisors are never assigned (every profile: the supervisor rule is
  Montana's "not forced on the member"; witness and party are Louisiana's, Utah's, Colorado's);
- `no_session_content`: notes and topics are not recorded at all (the encounter form hides them, the service
  refuses them): Montana's written policy must forbid recording a session;
- a member may ask to change or add a supporter (every profile; kept in the activation's timeline).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models


class PrivilegeProfileCode(models.TextChoices):
    NONE = "none", "No state profile (the network's own rules)"
    MONTANA = "mt", "Montana"
    LOUISIANA = "la", "Louisiana"
    UTAH = "ut", "Utah"
    COLORADO = "co", "Colorado"
    MINNESOTA = "mn", "Minnesota"
    WASHINGTON = "wa", "Washington"
    TEXAS = "tx", "Texas"
    CUSTOM = "custom", "Custom (set below)"


@dataclass(frozen=True)
class PrivilegeProfile:
    code: str
    label: str
    statute: str
    designation_before_incident: bool = True
    min_training_hours: int = 0
    no_session_content: bool = False


PROFILES: dict[str, PrivilegeProfile] = {
    p.code: p
    for p in [
        PrivilegeProfile("none", "No state profile", ""),
        PrivilegeProfile("mt", "Montana", "Mont. Code Ann. 7-32-602 (2025)", no_session_content=True),
        PrivilegeProfile("la", "Louisiana", "La. Code Evid. art. 518"),
        PrivilegeProfile("ut", "Utah", "Utah Code 78B-5-903; Utah R. Evid. 507"),
        PrivilegeProfile("co", "Colorado", "C.R.S. 13-90-107(1)(m); C.R.S. 12-30-125"),
        PrivilegeProfile("mn", "Minnesota", "Minn. Stat. 181.9731", min_training_hours=30),
        PrivilegeProfile("wa", "Washington", "RCW 5.60.060(6), as amended in 2024 (E2SHB 2311)", min_training_hours=40),
        PrivilegeProfile("tx", "Texas", "Tex. Occ. Code 1701.621-.626 (SB 64, 2021)"),
    ]
}


def profile_of(policy) -> PrivilegeProfile:
    """The profile in force under `policy` (a NetworkPolicy): a shipped state's, or the custom one built from the
    policy's own privilege settings."""
    code = policy.privilege_profile
    if code == PrivilegeProfileCode.CUSTOM:
        return PrivilegeProfile(
            "custom",
            "Custom",
            "",
            designation_before_incident=policy.privilege_designation_before_incident,
            min_training_hours=policy.privilege_min_training_hours,
            no_session_content=policy.privilege_no_session_content,
        )
    return PROFILES.get(code, PROFILES["none"])
