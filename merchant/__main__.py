"""``python -m merchant``: serve, create-merchant, add-issuer.

Settings come from ``MERCHANT_*`` environment variables (:mod:`merchant.settings`); the
options below override them.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from certs.origin import origin_of_url
from certs.wire import b64url_encode
from merchant.app import create_app, load_trust_roots, prepare
from merchant.errors import IssuerMetadataInvalid
from merchant.issuer_directory import (
    IssuerInfo,
    fetch_issuer_metadata,
    read_issuer_metadata_file,
    save_issuer,
)
from merchant.migrations import migrate_database
from merchant.settings import ConfigurationError, Settings
from merchant.store import Store
from servicekit.api_keys import generate_api_key, hash_api_key
from servicekit.database import make_engine
from servicekit.localhost_resolver import client_connector
from servicekit.redaction import configure_logging
from servicekit.runner import serve

__all__ = ["main"]


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    if getattr(args, "data_dir", None):
        overrides["data_dir"] = Path(args.data_dir)
    if getattr(args, "database_url", None):
        overrides["database_url"] = args.database_url
    if getattr(args, "trust_roots", None):
        overrides["trust_roots"] = tuple(Path(p) for p in args.trust_roots)
    if getattr(args, "dev", False):
        overrides["dev"] = True
    if getattr(args, "public_origin", None):
        overrides["public_origin"] = args.public_origin
    return Settings.from_env(**overrides)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", help="data directory (MERCHANT_DATA_DIR)")
    parser.add_argument("--database-url", help="database URL (MERCHANT_DATABASE_URL)")
    parser.add_argument("--trust-roots", nargs="+", metavar="PEM", help="network root PEM file(s)")


def _serve(args: argparse.Namespace) -> int:
    settings = _settings(args)
    configure_logging(settings.log_level)

    async def factory() -> web.Application:
        return create_app(settings)

    serve(
        factory,
        host=args.host,
        port=args.port,
        workers=args.workers,
        prepare=lambda: prepare(settings),
        banner=f"merchant on http://{args.host}:{args.port} ({args.workers} worker(s))"
        + (f", demo shop at {settings.public_origin}/shop" if settings.shop else ""),
    )
    return 0


async def _create_merchant(settings: Settings, name: str, origins: tuple[str, ...]) -> str:
    engine = make_engine(settings.resolved_database_url)
    try:
        await migrate_database(engine)
        merchant_id = "mer_" + b64url_encode(secrets.token_bytes(12))
        key = generate_api_key("mk")
        await Store(engine).create_merchant(
            merchant_id=merchant_id,
            name=name,
            allowed_origins=origins,
            key_hash=hash_api_key(key),
            now=datetime.now(UTC),
        )
    finally:
        await engine.dispose()
    print(f"merchant id: {merchant_id}")
    print(f"API key (shown once, store it now): {key}")
    return merchant_id


def _create(args: argparse.Namespace) -> int:
    settings = _settings(args)
    origins: list[str] = []
    for text in args.origin:
        origin = origin_of_url(text)
        if origin is None:
            print(f"error: {text!r} is not an https (or local http) origin", file=sys.stderr)
            return 2
        origins.append(origin)
    name = args.name.strip()
    if not 0 < len(name) <= 100 or not name.isprintable():
        print("error: --name must be printable text of at most 100 characters", file=sys.stderr)
        return 2
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    asyncio.run(_create_merchant(settings, name, tuple(dict.fromkeys(origins))))
    return 0


async def _add_issuer_async(settings: Settings, args: argparse.Namespace) -> IssuerInfo:
    roots = load_trust_roots(settings) if settings.trust_roots else []
    if args.file:
        info = read_issuer_metadata_file(Path(args.file), roots=roots)
        source = str(Path(args.file).resolve())
    else:
        async with aiohttp.ClientSession(connector=client_connector()) as session:
            info = await fetch_issuer_metadata(session, args.metadata_url, roots=roots)
        source = args.metadata_url
    engine = make_engine(settings.resolved_database_url)
    try:
        await migrate_database(engine)
        await save_issuer(engine, info, source=source, now=datetime.now(UTC))
    finally:
        await engine.dispose()
    return info


def _add_issuer(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not settings.trust_roots:
        print(
            "warning: no trust roots configured; the issuer CA is not checked against them",
            file=sys.stderr,
        )
    try:
        info = asyncio.run(_add_issuer_async(settings, args))
    except IssuerMetadataInvalid as error:
        print(f"error: {error.code}: {error.message}", file=sys.stderr)
        return 1
    print(f"issuer: {info.name} ({info.origin})")
    print(f"BIN prefixes: {', '.join(info.bin_prefixes)}")
    print(f"pay URL: {info.pay_url}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m merchant", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve_cmd = commands.add_parser("serve", help="run the merchant service")
    _common(serve_cmd)
    serve_cmd.add_argument("--host", default="127.0.0.1")
    serve_cmd.add_argument("--port", type=int, default=8002)
    serve_cmd.add_argument("--workers", type=int, default=1)
    serve_cmd.add_argument("--dev", action="store_true", help="dev mode (MERCHANT_DEV=1)")
    serve_cmd.add_argument("--public-origin", help="origin shoppers use (MERCHANT_PUBLIC_ORIGIN)")
    serve_cmd.set_defaults(handler=_serve)

    create_cmd = commands.add_parser("create-merchant", help="create a merchant account")
    _common(create_cmd)
    create_cmd.add_argument("--name", required=True, help="name shown to and signed by shoppers")
    create_cmd.add_argument(
        "--origin", required=True, action="append", help="allowed return-URL origin (repeat)"
    )
    create_cmd.set_defaults(handler=_create)

    issuer_cmd = commands.add_parser("add-issuer", help="add or refresh a participating issuer")
    _common(issuer_cmd)
    source = issuer_cmd.add_mutually_exclusive_group(required=True)
    source.add_argument("--metadata-url", help="issuer origin or its metadata URL")
    source.add_argument("--file", help="issuer metadata JSON file")
    issuer_cmd.set_defaults(handler=_add_issuer)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except ConfigurationError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
