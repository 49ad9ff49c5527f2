"""Building the authentication services from their settings (called by `proxy.app`)."""

from __future__ import annotations

from db.credential_hash import ScryptParams, SecretHasher
from db.pull_keys import SigningKeyStore, key_from_bytes
from db.robot_queries import RobotStore
from proxy.auth_settings import AuthSettings, PullAuthSettings
from proxy.gate.auth.cache import CredentialCache
from proxy.gate.auth.limiter import FailureLimiter
from proxy.gate.auth.pull import Principal, PullAuth
from proxy.gate.auth.robot_states import RobotStates

__all__ = ["failure_limiter", "pull_authentication", "secret_hasher"]


def secret_hasher(settings: AuthSettings) -> SecretHasher:
    kdf = settings.kdf
    return SecretHasher(ScryptParams(kdf.log2_n, kdf.r, kdf.p))


def failure_limiter(settings: AuthSettings) -> FailureLimiter | None:
    limits = settings.rate_limit
    if not limits.enabled:
        return None
    return FailureLimiter(limits.max_failures, limits.window, max_addresses=limits.max_addresses)


async def pull_authentication(
    settings: PullAuthSettings, auth: AuthSettings, robots: RobotStore, keys: SigningKeyStore
) -> PullAuth:
    """The pull authenticator; reads (or on first start makes) the shared signing key."""
    configured = settings.signing_key()
    key = key_from_bytes(configured) if configured is not None else await keys.current()
    states = RobotStates(robots.list_robots, robots.get_by_id, settings.revocation_check_interval)
    cache: CredentialCache[Principal] = CredentialCache(auth.cache_ttl)
    return PullAuth(settings, robots=robots, key=key, states=states, cache=cache)
