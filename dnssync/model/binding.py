"""What ties a saved plan to the repository it was made in, and optionally to a key.

A plan's checksum catches accidents (a truncated or hand-edited file). It cannot
catch a plan made in another repository (other providers, other zones) handed to
`apply --plan` here, nor someone who edits a plan and recomputes the sum. So a plan
also records `repository`, digests of what it was made for (dnssync.yaml as written,
the providers' identities, the zone names), which apply recomputes and must match,
and its git revision, which must be the one checked out; and, when the environment
holds `DNSSYNC_PLAN_KEY`, an HMAC of the checksum that only a holder of the key can make.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from dnssync.model.secrets import is_secret_key, register

if TYPE_CHECKING:  # the type only: a plan's binding is data, below the loader
    from dnssync.repo.config import Config

KEY_ENV = "DNSSYNC_PLAN_KEY"


def _sha(data: object) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data, sort_keys=True, separators=(",", ":"),
                                                              default=str).encode()
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def repository_digest(config: Config, zone_names: list[str]) -> dict[str, str]:
    """Digests of what a plan is made for, each part apart so a refusal can say which
    differs: the config file's bytes, every provider's identity (name, class, zones,
    nameservers, options with secret values left out, so rotating a key keeps plans
    valid) and the sorted zone names."""
    try:
        config_bytes = Path(config.file).read_bytes()
    except OSError:
        config_bytes = b""
    providers = [
        {"name": p.name, "class": p.cls, "zones": p.zones, "nameservers": [n.name for n in p.nameservers],
         "options": {k: "<secret>" if is_secret_key(k) else v for k, v in sorted(p.options.items())}}
        for p in sorted(config.providers.values(), key=lambda p: p.name)
    ]
    return {"config": _sha(config_bytes), "providers": _sha(providers), "zones": _sha(sorted(zone_names))}


def plan_key() -> bytes | None:
    """The plan-signing key from the environment (masked like every secret), or None."""
    key = os.environ.get(KEY_ENV)
    if not key:
        return None
    register(key)
    return key.encode()


def signature(checksum: str, key: bytes) -> str:
    return "hmac-sha256:" + hmac.new(key, checksum.encode(), hashlib.sha256).hexdigest()


def signature_problem(checksum: str, signed: str | None) -> str | None:
    """Why a plan's signature does not prove it was made by a holder of the key, or None."""
    key = plan_key()
    if key is None:
        return f"the plan is signed, but {KEY_ENV} is not set here to check it" if signed else None
    if not signed:
        return f"{KEY_ENV} is set, but the plan is not signed (made without the key)"
    if not hmac.compare_digest(signed, signature(checksum, key)):
        return f"the plan's signature does not match ({KEY_ENV} differs, or the plan was edited and re-summed)"
    return None


def binding_problem(plan_repository: dict[str, str] | None, plan_revision: str | None,
                    repository: dict[str, str], revision: str | None) -> str | None:
    """Why a saved plan does not belong to this repository at this revision, or None.
    A working tree modified since (`+dirty`) is the same revision: the plan carries its
    own desired content, and apply re-reads every provider anyway."""
    if not isinstance(plan_repository, dict):
        return "the plan records no repository (made by an older dnssync)"
    names = {"config": "its dnssync.yaml", "providers": "its providers", "zones": "its zone names"}
    differ = [what for key, what in names.items() if plan_repository.get(key) != repository[key]]
    if differ:
        return f"the plan was made for another repository ({', '.join(differ)} differ from this one's)"
    made, here = (r.removesuffix("+dirty") if r else None for r in (plan_revision, revision))
    if made != here:
        return f"the plan was made at revision {made or '(not in git)'}, this repository is at {here or '(not in git)'}"
    return None
