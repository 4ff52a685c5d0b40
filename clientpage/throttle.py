"""Per-address limits on the client page, kept in the cache (RELIABILITY: a guessed code must stay a guess).

Two fixed windows per address: every request to /c/ (a person reloading is far below it), and wrong codes,
much stricter: after a few, the address gets no answer about any code until the window ends, so codes cannot
be tried in bulk. The address is hashed before it becomes a cache key.
"""

import hashlib
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

REQUESTS_PER_MINUTE = 30
WRONG_CODES_LIMIT, WRONG_CODES_WINDOW = 10, 15 * 60  # seconds


def client_address(request: HttpRequest) -> str:
    """The client's address: behind DJANGO_PROXY_COUNT proxies, the one the nearest trusted proxy saw."""
    proxies = settings.AXES_IPWARE_PROXY_COUNT
    forwarded = [part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",") if part.strip()]
    if proxies and len(forwarded) >= proxies:
        return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "")


def _key(kind: str, request: HttpRequest, window: int) -> str:
    address = hashlib.sha256(client_address(request).encode()).hexdigest()[:32]
    return f"clientpage:{kind}:{address}:{int(time.time()) // window}"


def _count(key: str, window: int) -> int:
    cache.add(key, 0, timeout=window)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window)
        return 1


def over_limit(request: HttpRequest) -> bool:
    """Counts this request; True when the address has made too many requests or tried too many wrong codes."""
    if (cache.get(_key("wrong", request, WRONG_CODES_WINDOW)) or 0) >= WRONG_CODES_LIMIT:
        return True
    return _count(_key("any", request, 60), 60) > REQUESTS_PER_MINUTE


def record_wrong_code(request: HttpRequest) -> None:
    _count(_key("wrong", request, WRONG_CODES_WINDOW), WRONG_CODES_WINDOW)
