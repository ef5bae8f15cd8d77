"""Resource ids: a type prefix and 32 hex characters (`ses_0f3c…`), as OAH issues them.

A leaf module, so both the core and the store (event and step ids) can use it."""

from __future__ import annotations

import uuid


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"
