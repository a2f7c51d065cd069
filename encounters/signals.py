"""Signals the encounters layer sends so that the layers above (reporting) can act without encounters
importing them. Sent inside the transaction of the change: a receiver's writes commit with it."""

from django.dispatch import Signal

# An agency's encounter records changed (one was logged). Keyword arguments: agency.
encounters_changed = Signal()
