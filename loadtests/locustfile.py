"""cardcert load: checkouts with real presentations, and enrollment at the issuer.

Run through ``scripts/load.py`` (``make load``), which starts both services on 127.0.0.1
and passes the keys below. Directly::

    locust -f loadtests/locustfile.py --host http://127.0.0.1:MERCHANT_PORT \
        --issuer-url http://127.0.0.1:ISSUER_PORT --issuer-api-key KEY --merchant-api-key KEY

Users
    ``Checkout``: ``POST /v1/checkouts`` at the merchant, sign the transaction with an
    enrolled synthetic cardholder's credential (``CardholderCredential.present``, byte
    identical to the Service Worker), ``POST /v1/checkouts/{id}/verify``. A share
    (``--bad-share``) of the presentations is bad and must be refused with its code:
    ``tampered`` (amount edited in the signed bytes), ``replayed`` (two concurrent
    submissions of one valid presentation, then a third), ``wrong_card`` (security code
    differs from the one bound at enrollment), ``revoked`` (credential revoked at the
    issuer). A correct refusal is a success; anything else is a failure named by the code
    received (``unexpected <code>``).
    ``Enrollment``: back office registers a card, the cardholder enrolls (challenge +
    proof of possession) and, with ``--renew-share``, renews.

Options (command line or environment): ``--card-pool`` / ``LOAD_CARD_POOL``,
``--pool-file`` / ``LOAD_POOL_FILE`` (seeded cardholders instead of enrolling at start),
``--revoked-pool``, ``--bad-share`` / ``LOAD_BAD_SHARE``, ``--bad-kinds``,
``--status-mode stapled|live`` / ``LOAD_STATUS_MODE``, ``--renew-share``.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import gevent
import gevent.event
import gevent.pool
import requests
import requests.adapters
from locust import FastHttpUser, events, task
from locust.env import Environment
from locust.runners import MasterRunner

from certs.credential import transaction_fields
from certs.wire import b64url_decode, b64url_encode
from loadtests.cardholders import (
    Cardholder,
    EnrollmentFailed,
    card_json,
    enroll,
    random_pan,
    read_pool,
    register_card,
    renew,
    revoke,
)

_log = logging.getLogger("cardcert.load")

BAD_KINDS = ("tampered", "replayed", "wrong_card", "revoked")
# The code each kind must be answered with (merchant verdict code; "authenticated" = success).
EXPECTED = {
    "good": "authenticated",
    "tampered": "signature_invalid",
    "wrong_card": "card_data_mismatch",
    "revoked": "cert_revoked",
    "replayed": "nonce_replayed",
}
AMOUNTS = ("12.30", "4.99", "250.00", "1.00", "79.95")


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    group = parser  # is_secret works only on the parser itself, not on groups
    group.add_argument(
        "--issuer-url", env_var="LOAD_ISSUER_URL", default="", help="issuer base URL (127.0.0.1)"
    )
    group.add_argument(
        "--issuer-origin",
        env_var="LOAD_ISSUER_ORIGIN",
        default="",
        help="issuer public origin (default: --issuer-url)",
    )
    group.add_argument(
        "--issuer-api-key",
        env_var="LOAD_ISSUER_API_KEY",
        default="",
        is_secret=True,
        help="back-office API key",
    )
    group.add_argument(
        "--merchant-api-key",
        env_var="LOAD_MERCHANT_API_KEY",
        default="",
        is_secret=True,
        help="merchant API key",
    )
    group.add_argument(
        "--card-pool",
        env_var="LOAD_CARD_POOL",
        type=int,
        default=20,
        help="enrolled cardholders per load-generating process",
    )
    group.add_argument(
        "--pool-file",
        env_var="LOAD_POOL_FILE",
        default="",
        help="seeded cardholders (python -m loadtests.seed --credentials --pool-out FILE): "
        "draw --card-pool of them instead of enrolling at start",
    )
    group.add_argument(
        "--revoked-pool",
        env_var="LOAD_REVOKED_POOL",
        type=int,
        default=3,
        help="enrolled then revoked cardholders per process",
    )
    group.add_argument(
        "--bad-share",
        env_var="LOAD_BAD_SHARE",
        type=float,
        default=0.1,
        help="share of bad presentations (0..1)",
    )
    group.add_argument(
        "--bad-kinds",
        env_var="LOAD_BAD_KINDS",
        default=",".join(BAD_KINDS),
        help="comma-separated subset of " + ",".join(BAD_KINDS),
    )
    group.add_argument(
        "--status-mode",
        env_var="LOAD_STATUS_MODE",
        default="stapled",
        choices=("stapled", "live"),
        help="staple the enrollment OCSP response, or none (merchant asks live)",
    )
    group.add_argument("--renew-share", env_var="LOAD_RENEW_SHARE", type=float, default=0.5,
                       help="share of Enrollment iterations that also renew")  # fmt: skip


@dataclass
class Pool:
    """Enrolled cardholders of this process (built once, at test start)."""

    good: list[Cardholder] = field(default_factory=list)
    revoked: list[tuple[Cardholder, bytes]] = field(default_factory=list)
    kinds: tuple[str, ...] = BAD_KINDS
    ready: gevent.event.Event = field(default_factory=gevent.event.Event)


_POOL_ATTR = "cardcert_pool"
_SETUP_CONCURRENCY = 16


def _pool(environment: Environment) -> Pool:
    pool: Pool = getattr(environment, _POOL_ATTR)
    pool.ready.wait()
    return pool


def _fire_failure(environment: Environment, name: str, message: str) -> None:
    environment.events.request.fire(
        request_type="CHECK", name=name, response_time=0, response_length=0,
        exception=AssertionError(message), context={},
    )  # fmt: skip


@events.test_start.add_listener
def _enroll_pool(environment: Environment, **_: Any) -> None:
    if isinstance(environment.runner, MasterRunner):
        return
    options = environment.parsed_options
    pool = Pool()
    setattr(environment, _POOL_ATTR, pool)
    kinds = tuple(k.strip() for k in options.bad_kinds.split(",") if k.strip())
    if unknown := set(kinds) - set(BAD_KINDS):
        raise SystemExit(f"unknown --bad-kinds: {sorted(unknown)}")
    pool.kinds = kinds
    issuer = options.issuer_url.rstrip("/")
    origin = options.issuer_origin or issuer
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=_SETUP_CONCURRENCY))
    started = time.perf_counter()

    def one(revoked: bool) -> None:
        try:
            pan = random_pan()
            code = register_card(session, issuer, options.issuer_api_key, pan, timeout=30)
            holder = enroll(session, issuer, origin, code["activationCode"], pan, timeout=30)
            if revoked:
                staple = revoke(session, issuer, options.issuer_api_key, holder, timeout=30)
                pool.revoked.append((holder, staple))
            else:
                pool.good.append(holder)
        except (EnrollmentFailed, requests.RequestException) as exc:
            _fire_failure(environment, "setup enrollment", f"setup_failed {exc}")

    enrolled_here = options.card_pool
    if options.pool_file:
        loading = time.perf_counter()
        pool.good.extend(read_pool(Path(options.pool_file), options.card_pool))
        enrolled_here = 0
        # A row in the stats: how many seeded cardholders this process drew, and how fast.
        environment.events.request.fire(
            request_type="SETUP", name="cardholders from --pool-file",
            response_time=(time.perf_counter() - loading) * 1000,
            response_length=len(pool.good), exception=None, context={},
        )  # fmt: skip
    workers = gevent.pool.Pool(_SETUP_CONCURRENCY)
    for index in range(enrolled_here + options.revoked_pool):
        workers.spawn(one, index >= enrolled_here)
    workers.join()
    _log.info(
        "cardcert: %d cardholders (%s, +%d revoked) in %.1f s",
        len(pool.good), "from " + options.pool_file if options.pool_file else "enrolled",
        len(pool.revoked), time.perf_counter() - started,
    )  # fmt: skip
    if not pool.good:
        _fire_failure(environment, "setup enrollment", "setup_failed no cardholder enrolled")
    if "revoked" in pool.kinds and not pool.revoked:
        pool.kinds = tuple(k for k in pool.kinds if k != "revoked")
    pool.ready.set()


def _verdict_code(response: Any) -> str:
    """``authenticated``, the verdict code, the error code, or ``http_<status>``."""
    try:
        body = response.json()
    except Exception:  # not JSON at all
        return f"http_{response.status_code}"
    if response.status_code == 200 and isinstance(body.get("verdict"), dict):
        verdict = body["verdict"]
        if verdict.get("result") == "authenticated":
            return "authenticated"
        return str(verdict.get("code") or verdict.get("result"))
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return str(code or f"http_{response.status_code}")


def _tamper_amount(presentation: dict[str, Any]) -> dict[str, Any]:
    """Edit the amount inside the signed transaction bytes, keeping the signature."""
    raw = b64url_decode(presentation["transaction"], error=ValueError, what="transaction")
    tampered = raw.replace(b'"amount":"', b'"amount":"9', 1)
    return {**presentation, "transaction": b64url_encode(tampered)}


class Checkout(FastHttpUser):
    """A shopper paying at the merchant (merchant API on ``--host``)."""

    weight = 4
    concurrency = 4

    def on_start(self) -> None:
        self.options = self.environment.parsed_options
        self.auth = {"Authorization": f"Bearer {self.options.merchant_api_key}"}
        self.return_url = f"{self.host.rstrip('/')}/checkout/return"

    def _create(self, holder: Cardholder) -> dict[str, Any] | None:
        body = {
            "amount": random.choice(AMOUNTS),
            "currency": "EUR",
            "orderReference": f"load-{random.getrandbits(48):x}",
            "returnUrl": self.return_url,
            "card": holder.hint,
        }
        with self.client.post(
            "/v1/checkouts", json=body, headers=self.auth, catch_response=True
        ) as response:
            if response.status_code != 201:
                response.failure(f"unexpected {_verdict_code(response)}")
                return None
            return dict(response.json())

    def _verify(
        self, checkout_id: str, presentation: dict[str, Any], card: dict[str, str], kind: str,
        accept: frozenset[str],
    ) -> str:  # fmt: skip
        with self.client.post(
            f"/v1/checkouts/{checkout_id}/verify",
            json={"presentation": presentation, "cardData": card},
            headers=self.auth,
            name=f"/v1/checkouts/{{id}}/verify [{kind}]",
            catch_response=True,
        ) as response:
            code = _verdict_code(response)
            if code in accept:
                response.success()
            else:
                response.failure(f"unexpected {code}")
            return code

    @task
    def checkout(self) -> None:
        pool = _pool(self.environment)
        kind = "good"
        if pool.kinds and random.random() < self.options.bad_share:
            kind = random.choice(pool.kinds)
        staple: bytes | None
        if kind == "revoked":
            holder, staple = random.choice(pool.revoked)
        else:
            holder = random.choice(pool.good)
            staple = holder.staple
        if self.options.status_mode == "live":
            staple = None
        checkout = self._create(holder)
        if checkout is None:
            return
        request = checkout["transactionRequest"]
        presentation = holder.credential.present(
            **transaction_fields(request), signed_at=datetime.now(UTC), status=staple
        ).to_json()
        card = holder.card
        if kind == "tampered":
            presentation = _tamper_amount(presentation)
        elif kind == "wrong_card":
            card = card_json(holder.pan, security_code="999")
        checkout_id = checkout["checkoutId"]
        if kind == "replayed":
            self._replay(checkout_id, presentation, card)
            return
        self._verify(checkout_id, presentation, card, kind, frozenset({EXPECTED[kind]}))

    def _replay(self, checkout_id: str, presentation: dict[str, Any], card: dict[str, str]) -> None:
        """Two concurrent submissions (exactly one may win), then a late replay."""
        either = frozenset({"authenticated", "nonce_replayed"})
        racers = [
            gevent.spawn(self._verify, checkout_id, presentation, card, "replayed-race", either)
            for _ in range(2)
        ]
        gevent.joinall(racers)
        codes = sorted(str(g.value) for g in racers)
        if codes != ["authenticated", "nonce_replayed"]:
            _fire_failure(self.environment, "replay race", "unexpected " + "+".join(codes))
        self._verify(checkout_id, presentation, card, "replayed", frozenset({"nonce_replayed"}))


class Enrollment(FastHttpUser):
    """Back office registers cards; synthetic cardholders enroll and renew (issuer API)."""

    weight = 1

    def on_start(self) -> None:
        options = self.environment.parsed_options
        self.issuer = options.issuer_url.rstrip("/")
        self.origin = options.issuer_origin or self.issuer
        self.api_key = options.issuer_api_key
        self.renew_share = options.renew_share

    @task
    def enroll_and_renew(self) -> None:
        pan = random_pan()
        try:
            code = register_card(self.client, self.issuer, self.api_key, pan, name="/v1/cards")
            holder = enroll(
                self.client, self.issuer, self.origin, code["activationCode"], pan,
                name="/v1/enrollment",
            )  # fmt: skip
            if random.random() < self.renew_share:
                renew(self.client, self.issuer, self.origin, holder, name="/v1/credentials/renew")
        except EnrollmentFailed:
            return  # locust already counted the failed request under its name
