"""Detached JWS signatures keyed by a bootstrap token, as in ``k8s.io/cluster-bootstrap``.

The control plane's bootstrap signer puts ``jws-kubeconfig-<token-id>`` into
``kube-public/cluster-info`` for every token allowed to sign; a joining node
recomputes it from the ``kubeconfig`` it read and the token it was given, and
trusts nothing it read anonymously unless the two agree.  Both sides must make
byte-identical strings, so the format is pinned here once: an RFC 7515 compact
serialisation with the payload left out (Appendix F: ``<header>..<signature>``),
HS256, a protected header of exactly ``{"alg":"HS256","kid":"<token-id>"}``
(go-jose writes its header keys sorted, with no spaces), base64url without
padding.  The key is the token secret, zero-padded to 32 bytes because go-jose
refuses shorter HS256 keys (HMAC pads short keys with zeros anyway, so a
16-character secret signs the same either way; the padding is kept for clarity).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

_MIN_KEY = 32


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def detached_signature(content: str, token_id: str, token_secret: str) -> str:
    """The detached JWS over ``content`` that kube's bootstrap signer would write."""
    key = token_secret.encode().ljust(_MIN_KEY, b"\0")
    header = json.dumps({"alg": "HS256", "kid": token_id}, separators=(",", ":"), sort_keys=True)
    signing_input = f"{_b64url(header.encode())}.{_b64url(content.encode())}"
    mac = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{_b64url(header.encode())}..{_b64url(mac)}"


def detached_signature_valid(
    signature: str, content: str, token_id: str, token_secret: str
) -> bool:
    """Whether ``signature`` is exactly what this token signs ``content`` to (kubeadm's check:
    recompute and compare the whole string, header included)."""
    expected = detached_signature(content, token_id, token_secret)
    return hmac.compare_digest(signature.encode(), expected.encode())
