"""Provider objects copied into a forked process drop the HTTP connections they pooled.

dnssync plans (and for a fleet, applies) in forked workers after the parent may have
used a provider's API (`nameservers: auto` reads it before planning). A pooled
keep-alive connection is one TCP stream; two workers sending on their copies of it at
once interleave their requests and read each other's answers. So in every forked child
each tracked provider's pools are closed: closing a copy sends nothing and the parent's
stays open; the child opens its own on first use."""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable
from typing import Any

#: provider -> how it forgets its pooled connections (in a child)
_tracked: weakref.WeakKeyDictionary[Any, Callable[[Any], None]] = weakref.WeakKeyDictionary()


def track(provider: Any, forget: Callable[[Any], None]) -> None:
    """Call `forget(provider)` in every process forked from this one while it lives."""
    _tracked[provider] = forget


def _forget_inherited_connections() -> None:
    for provider, forget in list(_tracked.items()):
        forget(provider)


os.register_at_fork(after_in_child=_forget_inherited_connections)
