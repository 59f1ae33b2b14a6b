"""Signed claims: signing, verification and every refusal, with its reason."""

from __future__ import annotations

import json
import time
from pathlib import Path

import nkeys  # type: ignore[import-untyped]
import pytest

from tests.wascc.conftest import ACTOR_NAMES, ACTORS_DIR, actor_bytes
from wasmlet_wascc import cli, sections
from wasmlet_wascc.claims import (
    ActorClaims,
    ClaimsError,
    embed_token,
    encode_token,
    module_hash,
    read_claims,
    sign_actor,
    verify_actor,
)
from wasmlet_wascc.keys import InvalidKey, KeyPair, Role, public_key_role, verify


def unsigned(name: str = "echo") -> bytes:
    return sections.strip_custom_sections(actor_bytes(name), sections.JWT_SECTION)


def refusal(module: bytes, **kwargs: object) -> ClaimsError:
    with pytest.raises(ClaimsError) as caught:
        verify_actor(module, **kwargs)  # type: ignore[arg-type]
    return caught.value


@pytest.fixture
def subject() -> KeyPair:
    return KeyPair.generate(Role.MODULE)


def test_round_trip(issuer: KeyPair, subject: KeyPair) -> None:
    signed = sign_actor(
        unsigned(),
        issuer,
        subject,
        capabilities=["keyvalue", "wascc:logging", "keyvalue"],
        name="echo",
        tags=["a", "b"],
        rev=3,
        ver="1.2.3",
        expires_in_seconds=3600,
    )
    claims = verify_actor(signed, allowed_issuers=[issuer.public_key])
    assert claims.issuer == issuer.public_key and claims.issuer.startswith("A")
    assert claims.subject == subject.public_key and claims.subject.startswith("M")
    assert claims.capabilities == ("wascc:keyvalue", "wascc:logging")
    assert (claims.name, claims.tags, claims.rev, claims.ver) == ("echo", ("a", "b"), 3, "1.2.3")
    assert claims.expires == claims.issued_at + 3600
    assert len(claims.jti) == 22
    assert claims.module_hash == module_hash(unsigned()) == module_hash(signed)
    assert claims.module_hash.isupper() and len(claims.module_hash) == 64
    # the claims travel as a wascap JWT in one custom section named "jwt"
    token = sections.custom_section(signed, "jwt")
    assert token is not None
    header = json.loads(_b64(token.split(b".")[0]))
    assert header == {"typ": "jwt", "alg": "Ed25519"}
    body = json.loads(_b64(token.split(b".")[1]))
    assert list(body) == ["exp", "jti", "iat", "iss", "sub", "wascap"]


def _b64(segment: bytes) -> bytes:
    import base64

    return base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4))


def test_resigning_replaces_the_claims(issuer: KeyPair, subject: KeyPair) -> None:
    once = sign_actor(unsigned(), issuer, subject, capabilities=["logging"])
    twice = sign_actor(once, issuer, subject, capabilities=["keyvalue"])
    assert [s.name for s in sections.sections(twice)].count("jwt") == 1
    assert verify_actor(twice).capabilities == ("wascc:keyvalue",)


def test_committed_actors_verify(issuer: KeyPair) -> None:
    for name in ACTOR_NAMES:
        claims = verify_actor(actor_bytes(name), allowed_issuers=[issuer.public_key])
        assert claims.name == name
        assert "wascc:http_server" in claims.capabilities
        seed = (ACTORS_DIR / "keys" / f"{name}.nk").read_text()
        assert claims.subject == KeyPair.from_seed(seed).public_key


def test_unsigned_is_refused() -> None:
    error = refusal(unsigned())
    assert error.reason == "ActorNotSigned"
    assert "no jwt section" in error.message


def test_one_flipped_code_byte_is_refused() -> None:
    module = bytearray(actor_bytes("echo"))
    code = next(s for s in sections.sections(bytes(module)) if s.id == 10)
    module[code.start + 40] ^= 0x01
    error = refusal(bytes(module))
    assert error.reason == "ActorHashMismatch"
    assert "changed after signing" in error.message


def test_edited_claims_are_refused(issuer: KeyPair, subject: KeyPair) -> None:
    signed = sign_actor(unsigned(), issuer, subject, capabilities=["logging"])
    token = sections.custom_section(signed, "jwt")
    assert token is not None
    header, body, signature = token.decode().split(".")
    claims = json.loads(_b64(body.encode()))
    claims["wascap"]["caps"].append("wascc:messaging")
    import base64

    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    error = refusal(embed_token(signed, f"{header}.{forged}.{signature}"))
    assert error.reason == "InvalidActorSignature"


def test_expired_is_refused(issuer: KeyPair, subject: KeyPair) -> None:
    signed = sign_actor(unsigned(), issuer, subject, expires_in_seconds=60, now=1_000_000)
    assert verify_actor(signed, now=1_000_059).expires == 1_000_060
    error = refusal(signed, now=1_000_060)
    assert error.reason == "ActorClaimsExpired"
    assert "expired at 1970-01-12T13:47:40Z" in error.message


def test_not_yet_valid_is_refused(issuer: KeyPair, subject: KeyPair) -> None:
    signed = sign_actor(unsigned(), issuer, subject, not_before_seconds=3600)
    error = refusal(signed)
    assert error.reason == "ActorClaimsNotYetValid"
    assert verify_actor(signed, now=time.time() + 3601).not_before is not None


def test_issuer_outside_the_allow_list_is_refused(issuer: KeyPair, subject: KeyPair) -> None:
    stranger = KeyPair.generate(Role.ACCOUNT)
    signed = sign_actor(unsigned(), stranger, subject)
    assert verify_actor(signed).issuer == stranger.public_key  # empty list: any issuer
    error = refusal(signed, allowed_issuers=[issuer.public_key])
    assert error.reason == "IssuerNotAllowed"
    assert stranger.public_key in error.message


def test_module_key_as_issuer_is_refused(subject: KeyPair) -> None:
    with pytest.raises(ClaimsError, match="account key"):
        sign_actor(unsigned(), subject, subject)
    # a token forged by hand, signed by the module key itself
    claims = ActorClaims(
        issuer=subject.public_key,
        subject=subject.public_key,
        issued_at=int(time.time()),
        jti="x" * 22,
        module_hash=module_hash(unsigned()),
    )
    error = refusal(embed_token(unsigned(), encode_token(claims, subject)))
    assert error.reason == "InvalidActorKeys"
    assert "issuer must be account key" in error.message


def test_account_key_as_subject_is_refused(issuer: KeyPair) -> None:
    claims = ActorClaims(
        issuer=issuer.public_key,
        subject=issuer.public_key,
        issued_at=int(time.time()),
        jti="x" * 22,
        module_hash=module_hash(unsigned()),
    )
    error = refusal(embed_token(unsigned(), encode_token(claims, issuer)))
    assert error.reason == "InvalidActorKeys"
    assert "subject must be module key" in error.message


def test_garbage_token_is_refused() -> None:
    error = refusal(embed_token(unsigned(), "not-a-token"))
    assert error.reason == "InvalidActorSignature"


def test_nkeys_interoperate_with_the_nkeys_package(issuer: KeyPair) -> None:
    theirs = nkeys.from_seed(issuer.seed.encode())
    assert theirs.public_key.decode() == issuer.public_key
    assert verify(issuer.public_key, b"payload", bytes(theirs.sign(b"payload")))
    assert theirs.verify(b"payload", issuer.sign(b"payload"))
    module = KeyPair.generate(Role.MODULE)
    assert module.seed.startswith("SM") and module.public_key.startswith("M")
    assert KeyPair.from_seed(module.seed).public_key == module.public_key
    assert public_key_role(module.public_key) is Role.MODULE
    broken = module.public_key[:-1] + ("A" if module.public_key[-1] != "A" else "B")
    with pytest.raises(InvalidKey):
        public_key_role(broken)


def test_cli_functions(tmp_path: Path) -> None:
    account = cli.keygen(Role.ACCOUNT)
    seed_file = tmp_path / "issuer.nk"
    cli.write_seed(seed_file, account)
    assert oct(seed_file.stat().st_mode & 0o777) == "0o600"
    raw = tmp_path / "echo.wasm"
    raw.write_bytes(unsigned())
    result = cli.sign(
        raw,
        issuer_seed=str(seed_file),
        output=tmp_path / "signed.wasm",
        capabilities=["http_server", "logging"],
        name="echo",
        expires_in_days=1,
    )
    assert result.new_subject_seed_file is not None and result.new_subject_seed_file.exists()
    inspected = cli.inspect(result.output)
    assert inspected.valid and inspected.reason == "Valid"
    assert inspected.claims is not None
    assert inspected.claims.capabilities == ("wascc:http_server", "wascc:logging")
    refused = cli.inspect(result.output, allowed_issuers=["ANOTHER"])
    assert (refused.valid, refused.reason) == (False, "IssuerNotAllowed")
    assert cli.inspect(raw).reason == "ActorNotSigned"


def test_cli_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["keygen", "--output", str(tmp_path / "a.nk")]) == 0
    raw = tmp_path / "echo.wasm"
    raw.write_bytes(unsigned())
    module_seed = cli.keygen(Role.MODULE).seed
    code = cli.main(
        [
            "sign",
            str(raw),
            "--issuer-seed",
            str(tmp_path / "a.nk"),
            "--subject-seed",
            module_seed,
            "--caps",
            "keyvalue",
            "--name",
            "x",
        ]
    )
    assert code == 0
    assert read_claims(raw.read_bytes()).capabilities == ("wascc:keyvalue",)
    capsys.readouterr()
    assert cli.main(["inspect", str(raw), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["valid"] and shown["claims"]["sub"] == KeyPair.from_seed(module_seed).public_key
    assert cli.main(["sign", str(raw), "--issuer-seed", module_seed]) == 2
    assert "account key" in capsys.readouterr().err
