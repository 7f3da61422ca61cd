"""``python -m issuer``: serve the issuer, and operator commands.

    python -m issuer serve [--host H] [--port P] [--workers N] [--data-dir D] [--production]
    python -m issuer create-api-key [--name NAME] [--data-dir D] [--production]
    python -m issuer register-card --pan PAN --expiry MM/YY --cvc CVC [--name NAME] [--data-dir D]

Settings come from ``ISSUER_*`` environment variables (:mod:`issuer.settings`); the flags
override them. Commands print secrets they create (API key, activation code) once, on
stdout, and never log them. Exit status: 0 success, 1 refused request, 2 configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiohttp import web

from certs.card_data import CardData
from certs.errors import CardcertError
from issuer.api_keys import create_api_key
from issuer.app import create_app
from issuer.cards import IssuedCode, register_card
from issuer.clock import system_clock
from issuer.resources import open_resources
from issuer.settings import ConfigurationError, IssuerSettings
from issuer.wire_format import rfc3339
from servicekit.redaction import configure_logging
from servicekit.runner import serve

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m issuer", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    def common(command: argparse.ArgumentParser) -> None:
        command.add_argument("--data-dir", type=Path, help="data directory (ISSUER_DATA_DIR)")
        command.add_argument(
            "--production",
            action="store_true",
            help="never generate keys; refuse to start when key material is missing",
        )

    run = commands.add_parser("serve", help="serve the issuer over HTTP")
    run.add_argument("--host", help="listening address (ISSUER_HOST, default 127.0.0.1)")
    run.add_argument("--port", type=int, help="listening port (ISSUER_PORT, default 8001)")
    run.add_argument("--workers", type=int, help="processes sharing the port (ISSUER_WORKERS)")
    common(run)

    key = commands.add_parser("create-api-key", help="create a back-office API key")
    key.add_argument("--name", default="back office", help="a label for the key")
    common(key)

    card = commands.add_parser("register-card", help="register a card; print id and code")
    card.add_argument("--pan", required=True)
    card.add_argument("--expiry", required=True, help="MM/YY")
    card.add_argument("--cvc", required=True)
    card.add_argument("--name", default=None)
    common(card)
    return parser


def _settings(args: argparse.Namespace) -> IssuerSettings:
    overrides: dict[str, Any] = {
        "data_dir": args.data_dir,
        "production": True if args.production else None,
    }
    if args.command == "serve":
        overrides |= {"host": args.host, "port": args.port, "workers": args.workers}
    return IssuerSettings.from_env(**overrides)


def _serve(settings: IssuerSettings) -> int:
    configure_logging(settings.log_level)
    # aiosqlite logs every statement with its parameters at DEBUG; keep them out.
    logging.getLogger("aiosqlite").setLevel(max(logging.INFO, logging.getLogger().level))

    async def prepare() -> None:
        # Create (dev) or check the keys and migrate once, before the workers fork.
        async with open_resources(settings, now=system_clock()):
            pass

    async def factory() -> web.Application:
        return create_app(settings)

    serve(
        factory,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        prepare=prepare,
        banner=(
            f"issuer {settings.issuer_name!r} on http://{settings.host}:{settings.port} "
            f"(public origin {settings.public_origin}, {settings.workers} worker(s), "
            f"{'production' if settings.production else 'development'})"
        ),
    )
    return 0


async def _create_api_key(settings: IssuerSettings, name: str) -> str:
    now = system_clock()
    async with open_resources(settings, now=now) as res:
        return await create_api_key(res, name=name, now=now)


async def _register_card(settings: IssuerSettings, card: CardData) -> IssuedCode:
    now = system_clock()
    async with open_resources(settings, now=now) as res:
        return await register_card(res, card, actor="operator-cli", now=now)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = _settings(args)
        if args.command == "serve":
            return _serve(settings)
        if args.command == "create-api-key":
            key = asyncio.run(_create_api_key(settings, args.name))
            print(key)
            return 0
        card = CardData.parse(
            pan=args.pan, expiry=args.expiry, security_code=args.cvc, name=args.name
        )
        issued = asyncio.run(_register_card(settings, card))
    except ConfigurationError as error:
        print(f"issuer: configuration error: {error}", file=sys.stderr)
        return 2
    except CardcertError as error:
        print(f"issuer: {error.code}: {error.message}", file=sys.stderr)
        return 1
    print(f"card id:         {issued.card_id}")
    print(f"card:            {issued.bin}******{issued.last4}")
    print(f"activation code: {issued.activation_code.display()}")
    print(f"expires at:      {rfc3339(issued.expires_at)}")
    return 0
