"""``wasmlet actors keygen | sign | inspect``: manage actor keys and signed claims.

The functions (:func:`keygen`, :func:`sign`, :func:`inspect`) are the API;
:func:`register_cli` adds them as argparse subcommands to the ``wasmlet``
binary (through the ``kubelet_core._cli`` entry point), and
``python -m wasmlet_wascc.cli`` runs them standalone (the test actors'
Makefile signs with it).

Seeds are secrets: ``--issuer-seed`` and ``--subject-seed`` take either the
seed itself or the path of a file holding it, and ``keygen --output`` writes
seed files with mode 0600.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from wasmlet_wascc import claims as claims_mod
from wasmlet_wascc.claims import ActorClaims, ClaimsError
from wasmlet_wascc.keys import InvalidKey, KeyPair, Role


def keygen(role: Role = Role.ACCOUNT) -> KeyPair:
    """A new key pair: ``Role.ACCOUNT`` to sign actors, ``Role.MODULE`` to name one."""
    return KeyPair.generate(role)


def load_seed(seed_or_path: str) -> KeyPair:
    """A key pair from a seed string or from a file holding one."""
    text = seed_or_path.strip()
    if not text.startswith("S") or os.sep in text or Path(text).is_file():
        text = Path(seed_or_path).read_text().strip()
    return KeyPair.from_seed(text)


def write_seed(path: Path, key: KeyPair) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key.seed + "\n")


@dataclasses.dataclass(frozen=True)
class SignResult:
    claims: ActorClaims
    output: Path
    #: Set when no subject seed was given and a new module key was made (and saved here).
    new_subject_seed_file: Path | None = None


def sign(
    module: Path,
    *,
    issuer_seed: str,
    subject_seed: str | None = None,
    output: Path | None = None,
    capabilities: Sequence[str] = (),
    name: str | None = None,
    tags: Sequence[str] = (),
    rev: int | None = None,
    ver: str | None = None,
    expires_in_days: float | None = None,
    not_before_days: float | None = None,
) -> SignResult:
    """Sign ``module`` (replacing claims it has) into ``output`` (default: in place)."""
    issuer = load_seed(issuer_seed)
    new_seed_file = None
    if subject_seed is None:
        subject = KeyPair.generate(Role.MODULE)
        target = output or module
        new_seed_file = target.with_name(target.stem + ".module.nk")
        write_seed(new_seed_file, subject)
    else:
        subject = load_seed(subject_seed)
    signed = claims_mod.sign_actor(
        module.read_bytes(),
        issuer,
        subject,
        capabilities=capabilities,
        name=name,
        tags=tags,
        rev=rev,
        ver=ver,
        expires_in_seconds=None if expires_in_days is None else int(expires_in_days * 86400),
        not_before_seconds=None if not_before_days is None else int(not_before_days * 86400),
    )
    destination = output or module
    temp = destination.with_name(destination.name + ".tmp")
    temp.write_bytes(signed)
    os.replace(temp, destination)
    return SignResult(claims_mod.read_claims(signed), destination, new_seed_file)


@dataclasses.dataclass(frozen=True)
class InspectResult:
    claims: ActorClaims | None
    valid: bool
    reason: str  # "Valid", or the ClaimsError reason
    message: str
    module_hash: str

    def to_json(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "reason": self.reason,
            "message": self.message,
            "moduleHash": self.module_hash,
            "claims": None if self.claims is None else self.claims.to_json(),
        }


def inspect(module: Path, *, allowed_issuers: Sequence[str] = ()) -> InspectResult:
    """The module's claims and whether a node with ``allowed_issuers`` would run it."""
    data = module.read_bytes()
    try:
        digest = claims_mod.module_hash(data)
    except Exception as error:
        return InspectResult(None, False, "InvalidActorModule", str(error), "")
    try:
        found: ActorClaims | None = claims_mod.read_claims(data)
    except ClaimsError:
        found = None
    try:
        claims_mod.verify_actor(data, allowed_issuers=allowed_issuers)
    except ClaimsError as error:
        return InspectResult(found, False, error.reason, error.message, digest)
    return InspectResult(found, True, "Valid", "signature, keys, hash and time window hold", digest)


# -- argparse ------------------------------------------------------------------------------------


def register_cli(subparsers: Any) -> None:
    """Add ``actors {keygen,sign,inspect}`` to an argparse subparsers object."""
    actors = subparsers.add_parser("actors", help="waSCC actors: keys and signed claims")
    commands = actors.add_subparsers(dest="actors_command", metavar="COMMAND", required=True)

    gen = commands.add_parser("keygen", help="make a key pair (account to sign, module to name)")
    gen.add_argument("--role", choices=["account", "module"], default="account")
    gen.add_argument("--output", "-o", type=Path, help="write the seed here (mode 0600)")
    gen.set_defaults(handler=_run_keygen)

    sig = commands.add_parser("sign", help="embed signed claims in an actor module")
    sig.add_argument("module", type=Path)
    sig.add_argument("--output", "-o", type=Path, help="signed module (default: in place)")
    sig.add_argument("--issuer-seed", required=True, help="account seed (SA...) or its file")
    sig.add_argument("--subject-seed", help="module seed (SM...) or its file; default: new key")
    sig.add_argument(
        "--caps", default="", help="capabilities, comma-separated (keyvalue = wascc:keyvalue)"
    )
    sig.add_argument("--name")
    sig.add_argument("--tag", action="append", default=[], dest="tags")
    sig.add_argument("--rev", type=int)
    sig.add_argument("--ver")
    sig.add_argument("--expires-in-days", type=float)
    sig.add_argument("--not-before-days", type=float)
    sig.set_defaults(handler=_run_sign)

    ins = commands.add_parser("inspect", help="show an actor's claims and check them")
    ins.add_argument("module", type=Path)
    ins.add_argument("--allowed-issuer", action="append", default=[], dest="allowed_issuers")
    ins.add_argument("--json", action="store_true", help="print JSON")
    ins.set_defaults(handler=_run_inspect)


def _fail(message: str) -> int:
    print(f"wasmlet actors: error: {message}", file=sys.stderr)
    return 2


def _run_keygen(args: argparse.Namespace) -> int:
    key = keygen(Role.MODULE if args.role == "module" else Role.ACCOUNT)
    if args.output:
        write_seed(args.output, key)
        print(f"seed written to {args.output}")
    else:
        print(f"seed:       {key.seed}")
    print(f"public key: {key.public_key}")
    return 0


def _run_sign(args: argparse.Namespace) -> int:
    try:
        result = sign(
            args.module,
            issuer_seed=args.issuer_seed,
            subject_seed=args.subject_seed,
            output=args.output,
            capabilities=args.caps.split(","),
            name=args.name,
            tags=args.tags,
            rev=args.rev,
            ver=args.ver,
            expires_in_days=args.expires_in_days,
            not_before_days=args.not_before_days,
        )
    except (ClaimsError, InvalidKey, OSError, ValueError) as error:
        return _fail(str(error))
    claims = result.claims
    print(f"signed {result.output}: actor {claims.subject}")
    print(f"  capabilities: {', '.join(claims.capabilities) or 'none'}")
    if result.new_subject_seed_file:
        print(f"  new module key saved to {result.new_subject_seed_file} (keep it to re-sign)")
    return 0


def _run_inspect(args: argparse.Namespace) -> int:
    try:
        result = inspect(args.module, allowed_issuers=args.allowed_issuers)
    except OSError as error:
        return _fail(str(error))
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
        return 0 if result.valid else 1
    claims = result.claims
    if claims is None:
        print(f"{args.module}: {result.reason}: {result.message}")
        return 1
    print(f"actor       {claims.name or '-'} ({claims.subject})")
    print(f"issuer      {claims.issuer}")
    print(f"caps        {', '.join(claims.capabilities) or 'none'}")
    print(f"tags        {', '.join(claims.tags) or '-'}")
    print(f"version     {claims.ver or '-'} (rev {claims.rev if claims.rev is not None else '-'})")
    print(f"issued      {_when(claims.issued_at)}")
    print(f"expires     {_when(claims.expires) if claims.expires else 'never'}")
    print(f"not before  {_when(claims.not_before) if claims.not_before else '-'}")
    print(f"hash        {claims.module_hash}")
    print(f"status      {result.reason}: {result.message}")
    return 0 if result.valid else 1


def _when(timestamp: int | None) -> str:
    return (
        "-" if timestamp is None else time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(timestamp))
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m wasmlet_wascc.cli")
    commands = parser.add_subparsers(dest="command", required=True)
    register_cli(commands)
    args = parser.parse_args(["actors", *(argv if argv is not None else sys.argv[1:])])
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
