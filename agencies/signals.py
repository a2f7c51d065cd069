"""Signals the agencies layer sends so that the layers above can act without agencies importing them
(docs/architecture.md, "When a lower layer must cause work above it").

Each is sent inside the transaction of the change it announces: a receiver's writes commit or roll
back with it, and a receiver that raises aborts the change.
"""

from django.dispatch import Signal

# An agency was suspended. Keyword arguments: actor, agency, request (may be None).
agency_suspended = Signal()

# An agency's data is about to be destroyed (offboarding): its schema is still there. Receivers shred what the
# layers above keep under keys of their own for it (members' requests and check-ins: docs/members.md).
# Keyword arguments: agency.
agency_destroying = Signal()
