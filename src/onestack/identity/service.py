"""The identity service: one object holding every identity manager.

The API layer calls these managers; they are the only code that touches identity tables and
the key repositories.
"""

from __future__ import annotations

import anyio.to_thread

from onestack.common.config import Settings
from onestack.common.context import AuthInfo
from onestack.common.db import Database
from onestack.common.errors import NotFound
from onestack.identity.assignments import AssignmentManager
from onestack.identity.auth import TokenService
from onestack.identity.catalog import CatalogManager
from onestack.identity.core import IdentityCore
from onestack.identity.credentials import ApplicationCredentialManager, CredentialManager
from onestack.identity.documents import DomainConfigManager, PolicyManager
from onestack.identity.resources import DomainManager, ProjectManager
from onestack.identity.roles import RoleManager
from onestack.identity.tokens import KeyRepository, TokenFormatter
from onestack.identity.users import GroupManager, UserManager


class IdentityService:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.settings = settings
        self.core = IdentityCore(db, settings)
        ident = settings.identity
        self.token_keys = KeyRepository(settings.state_dir / "fernet-keys", ident.max_active_keys)
        self.credential_keys = KeyRepository(settings.state_dir / "credential-keys", 3)
        self.token_keys.initialize()
        self.credential_keys.initialize()
        self.domains = DomainManager(self.core)
        self.projects = ProjectManager(self.core, self.domains)
        self.users = UserManager(self.core)
        self.groups = GroupManager(self.core)
        self.roles = RoleManager(self.core)
        self.assignments = AssignmentManager(self.core)
        self.catalog = CatalogManager(self.core)
        self.credentials = CredentialManager(self.core, self.credential_keys)
        self.app_creds = ApplicationCredentialManager(self.core)
        self.policies = PolicyManager(self.core)
        self.domain_configs = DomainConfigManager(self.core)
        self.tokens = TokenService(
            self.core, TokenFormatter(self.token_keys), self.assignments, self.catalog
        )
        self._key_signature = self.token_keys.signature()

    def rotate_keys(self) -> int:
        index = self.token_keys.rotate()
        self.tokens.formatter.reload()
        self._key_signature = self.token_keys.signature()
        return index

    def reload_keys_if_rotated(self) -> bool:
        """Pick up keys rotated by ``onestack token rotate`` (another process, or a host
        sharing the key directory); True when they changed."""
        signature = self.token_keys.signature()
        if signature == self._key_signature:
            return False
        self.tokens.formatter.reload()
        self._key_signature = signature
        return True


class InProcessIdentityClient:
    """The identity client for services running in the same process as identity."""

    def __init__(self, service: IdentityService) -> None:
        self.service = service

    async def validate_token(self, token: str) -> AuthInfo | None:
        tokens = self.service.tokens
        try:
            cached = tokens.peek(token)
            if cached is not None:
                return cached.auth
            valid = await anyio.to_thread.run_sync(tokens.validate, token)
        except NotFound:
            return None
        return valid.auth
