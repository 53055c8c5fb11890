"""A staff token per role, minted once through the app's own token store and reused."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from services.api import auth


class RoleTokens:
    """Mixed into a test harness that has `client` (the API under test) and `tokens` (role -> secret)."""

    client: TestClient
    tokens: dict[str, str]

    async def token(self, role: str) -> str:
        if role not in self.tokens:
            secret, _ = await self.client.app[auth.TOKENS].create(role, f"test {role}")
            self.tokens[role] = secret
        return self.tokens[role]
