"""Event notifications between the store and the live streams (see `base`)."""

from .base import EventBus, RunSignals
from .local import LocalEventBus
from .subscription import Subscription

__all__ = ["EventBus", "LocalEventBus", "RunSignals", "Subscription"]
