"""Who is asking: the public (no token) or staff with a role. Roles: operator, department:<code>, command, press."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

STAFF_ROLES = ("operator", "command", "press")  # plus department:<code>


@dataclass(frozen=True, slots=True)
class Principal:
    role: str  # "public", "operator", "command", "press", or "department:<code>"
    name: str = "public"
    token_id: str | None = None

    @property
    def department(self) -> str | None:
        return self.role.split(":", 1)[1] if self.role.startswith("department:") else None

    @property
    def is_public(self) -> bool:
        return self.role == "public"

    @property
    def kind(self) -> str:
        """The role without its department: what the permission table is keyed by."""
        return "department" if self.department else self.role


PUBLIC = Principal("public")
PRINCIPAL = web.RequestKey("principal", Principal)  # set by the auth middleware on every request
