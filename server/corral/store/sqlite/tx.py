"""The SQLite implementation of :class:`corral.store.base.Tx`."""

from __future__ import annotations

from .tx_conversation import ConversationRepo
from .tx_runs import RunRepo


class SqliteTx(ConversationRepo, RunRepo):
    """Repository methods bound to one connection and one open transaction."""

    __slots__ = ()
