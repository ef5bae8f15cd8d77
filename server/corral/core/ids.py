"""Resource ids: a type prefix and 32 hex characters (`ses_0f3c…`), as OAH issues them."""

from __future__ import annotations

import uuid


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"
