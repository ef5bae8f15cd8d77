"""The SQLite implementation of :class:`corral.store.base.Tx`."""

from __future__ import annotations

from ..sql.tx_conversation import ConversationRepo
from ..sql.tx_runs import RunRepo
from .txbase import TxBase


class SqliteTx(ConversationRepo, RunRepo, TxBase):
    """Repository methods bound to one connection and one open transaction."""

    __slots__ = ()
