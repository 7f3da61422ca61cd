"""Real processes for the fault-injection tests (tests/hardening/test_faults*.py).

* :func:`running_service`: ``python -m issuer serve`` / ``python -m merchant serve`` as a
  subprocess in its own process group on a free 127.0.0.1 port, waited for on ``/health``
  (and every worker listening) and always stopped however the test ends (SIGTERM to the
  parent, which stops its workers, then SIGKILL to whatever is left of the group).
* :func:`worker_pids` / :func:`kill_one_worker` / :func:`wait_for_workers`: the worker
  children of a ``--workers N`` service (servicekit/runner.py) and their sockets, read
  from ``/proc``; the worker killed is the one holding the most client connections.
* :class:`RestartableCluster`: a private PostgreSQL cluster that a test may stop and start
  again on the same port and data directory (the session cluster of tests/conftest.py is
  shared by other tests and must never be restarted).
* :class:`MerchantWorld`: a throw-away PKI, one enrolled cardholder and a merchant database
  with an account and the issuer record, so the merchant service can verify real
  presentations without an issuer process (as bench/workers.py does).
* :func:`register_cards`, :func:`prepare_enrollment`, :func:`submit_enrollment`: the back
  office and a cardholder enrolling with the Service Worker's requests (as
  loadtests/cardholders.py, but async and with retries under test control).
* :class:`MisbehavingResponder`, :func:`refusing_port`: OCSP responders that hang, answer
  late, or refuse connections.
* :class:`Tally`, :func:`post_until_answered`: what a load of HTTP calls saw (statuses,
  error codes, transport errors), and a client that repeats a request whose connection
  died until it gets an answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from cryptography.hazmat.primitives import serialization

from certs.card_data import CardData
from certs.credential import CardholderCredential
from certs.dev_pki import DevPki
from certs.wire import b64url_encode
from servicekit.local_service import (
    ServiceNotHealthy,
    free_loopback_port,
    wait_until_healthy,
)
from tests.postgres_cluster import find_pg_bin

__all__ = [
    "ROOT",
    "Enrollee",
    "MerchantWorld",
    "MisbehavingResponder",
    "RestartableCluster",
    "Service",
    "Tally",
    "base_environment",
    "create_issuer_api_key",
    "issuer_environment",
    "kill_one_worker",
    "post_until_answered",
    "prepare_enrollment",
    "read_json",
    "refusing_port",
    "register_cards",
    "running_service",
    "submit_enrollment",
    "wait_for_workers",
    "worker_pids",
]

ROOT = Path(__file__).resolve().parents[2]
# Errors a client sees when the process serving its connection dies under it.
TRANSPORT_ERRORS = (aiohttp.ClientConnectionError, asyncio.TimeoutError, ConnectionError)


# --- services and their workers ----------------------------------------------------------


def worker_pids(parent: int) -> set[int]:
    """Live (not zombie) child processes of ``parent``, from ``/proc/*/stat``."""
    children: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == parent and fields[0] not in ("Z", "X"):
            children.add(int(entry.name))
    return children


_TCP_LISTEN = "0A"
_TCP_ESTABLISHED = "01"


def _tcp_sockets(port: int) -> dict[int, str]:
    """Socket inode -> TCP state of every IPv4 socket bound locally to ``port``."""
    sockets: dict[int, str] = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].rsplit(":", 1)[1], 16) == port:
            sockets[int(fields[9])] = fields[3]
    return sockets


def _socket_inodes(pid: int) -> set[int]:
    inodes: set[int] = set()
    with contextlib.suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(int(target[8:-1]))
    return inodes


def _sockets_of(pid: int, port: int, state: str) -> int:
    tcp = _tcp_sockets(port)
    return sum(1 for inode in _socket_inodes(pid) if tcp.get(inode) == state)


def wait_for_workers(
    parent: int,
    count: int,
    *,
    port: int,
    excluding: set[int] | None = None,
    within: float = 30.0,
) -> set[int]:
    """Wait until ``parent`` has ``count`` live workers listening on ``port``, none of them
    in ``excluding`` (a worker binds only once its app has started)."""
    excluding = excluding or set()
    deadline = time.monotonic() + within
    while True:
        pids = {
            pid
            for pid in worker_pids(parent) - excluding
            if _sockets_of(pid, port, _TCP_LISTEN) > 0
        }
        if len(pids) >= count:
            return pids
        if time.monotonic() > deadline:
            raise AssertionError(f"{parent} has workers {sorted(pids)}, expected {count}")
        time.sleep(0.05)


def kill_one_worker(parent: int, port: int) -> int:
    """SIGKILL the worker of ``parent`` holding the most client connections on ``port``
    (so the kill lands on requests in flight); return its pid."""
    pids = worker_pids(parent)
    if not pids:
        raise AssertionError(f"{parent} has no worker to kill")
    victim = max(sorted(pids), key=lambda pid: _sockets_of(pid, port, _TCP_ESTABLISHED))
    os.kill(victim, signal.SIGKILL)
    return victim


@dataclass
class Service:
    """A running ``python -m <component> serve`` process group."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def log_tail(self, size: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-size:] if self.log.exists() else ""


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the parent (it stops its workers), then SIGKILL whatever is left of the group."""
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # workers the parent did not reap
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


@contextlib.contextmanager
def running_service(
    component: str, *, env: Mapping[str, str], workers: int, log: Path, port: int | None = None
) -> Iterator[Service]:
    """``python -m component serve --port P --workers N`` until the block ends."""
    port = port or free_loopback_port()
    command = [sys.executable, "-m", component, "serve", "--port", str(port)]
    command += ["--workers", str(workers)]
    with log.open("ab") as sink:
        process = subprocess.Popen(
            command,
            env=dict(env),
            cwd=ROOT,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: cleanup reaches every worker
        )
    service = Service(process=process, url=f"http://127.0.0.1:{port}", log=log)
    try:
        try:
            wait_until_healthy(service.url, process, within=60, what=component)
        except ServiceNotHealthy as exc:  # fail the test with what the service logged
            raise AssertionError(f"{exc}:\n{service.log_tail()}") from exc
        if workers > 1:
            wait_for_workers(process.pid, workers, port=port)
        yield service
    finally:
        _stop_group(process)


def base_environment() -> dict[str, str]:
    """This interpreter's environment without database URLs, with the repository on the path."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("DATABASE_URL")}
    env["PYTHONPATH"] = str(ROOT)
    return env


# --- a PostgreSQL cluster a test may restart ----------------------------------------------


class RestartableCluster:
    """A private cluster on 127.0.0.1 (``fsync=off``) that can be stopped and started again."""

    def __init__(self) -> None:
        bin_dir = find_pg_bin()
        if bin_dir is None:
            raise RuntimeError("PostgreSQL is not installed (make test installs it)")
        self._bin = bin_dir
        self._as_root = os.geteuid() == 0
        self._prefix = ["runuser", "-u", "postgres", "--"] if self._as_root else []
        self._base = Path(tempfile.mkdtemp(prefix="cardcert-pg-faults-"))
        if self._as_root:
            shutil.chown(self._base, "postgres", "postgres")
        self._data = self._base / "data"
        self.port = free_loopback_port()
        self.running = False

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def database_url(self, name: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def _pg_ctl(self, *args: str) -> None:
        subprocess.run(
            [*self._prefix, str(self._bin / "pg_ctl"), "-D", str(self._data), *args],
            check=True,
            capture_output=True,
        )

    def init(self) -> None:
        initdb = [str(self._bin / "initdb"), "-D", str(self._data), "-A", "trust", "-U", "postgres"]
        subprocess.run(
            [*self._prefix, *initdb],
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self._base} -c fsync=off"
            " -c max_connections=100"
        )
        self._pg_ctl("-o", options, "-l", str(self._base / "log"), "-w", "start")
        self.running = True

    def stop(self, mode: str = "fast") -> None:
        """``fast``: roll back open transactions and close every connection (a restart)."""
        self._pg_ctl("-m", mode, "-w", "stop")
        self.running = False

    async def create_database(self, name: str) -> str:
        import asyncpg

        connection = await asyncpg.connect(self.url)
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()
        return self.database_url(name)

    def destroy(self) -> None:
        if self.running:
            with contextlib.suppress(subprocess.CalledProcessError):
                self.stop("immediate")
        shutil.rmtree(self._base, ignore_errors=True)

    @classmethod
    @contextlib.contextmanager
    def running_cluster(cls) -> Iterator[RestartableCluster]:
        cluster = cls()
        try:
            cluster.init()
            cluster.start()
            yield cluster
        finally:
            cluster.destroy()


# --- a merchant with a cardholder, no issuer process --------------------------------------

SHOP_ORIGIN = "http://shop.localhost:8002"
SHOP_NAME = "Faults Shop"
ISSUER_ORIGIN = "http://issuer.localhost:8001"
PAN = "4111111111111111"


@dataclass(repr=False)  # no repr: it holds the API key and the (test) card data
class MerchantWorld:
    """PKI, one cardholder, the merchant's environment and API key (see module docstring);
    :meth:`prepare_database` before the service starts.

    ``ocsp_url`` goes into the card certificate's AIA; ``staple`` False leaves the
    presentations without a stapled status, so the merchant must ask ``ocsp_url`` live.
    """

    work: Path
    database_url: str | None = None
    ocsp_url: str = f"{ISSUER_ORIGIN}/ocsp"
    staple: bool = True
    extra_env: Mapping[str, str] = field(default_factory=dict)
    api_key: str = field(init=False)
    env: dict[str, str] = field(init=False)
    credential: CardholderCredential = field(init=False)
    card_json: dict[str, str] = field(init=False)
    status: bytes | None = field(init=False)
    pki: DevPki = field(init=False)

    def __post_init__(self) -> None:
        now = datetime.now(UTC)
        pki = DevPki.create(now=now - timedelta(days=1))
        card = CardData.parse(pan=PAN, expiry=f"12/{(now.year + 3) % 100:02d}", security_code="737")
        self.card_json = {"pan": PAN, "expiry": card.expiry.iso(), "securityCode": "737"}
        self.credential = CardholderCredential.issue(
            pki, card, now=now, crl_url=f"{ISSUER_ORIGIN}/crl", ocsp_url=self.ocsp_url
        )
        self.status = (
            pki.good_status(
                self.credential.certificate,
                this_update=now - timedelta(minutes=1),
                next_update=now + timedelta(days=1),
            )
            if self.staple
            else None
        )
        data_dir = self.work / "merchant"
        data_dir.mkdir(parents=True, mode=0o700)
        root = self.work / "root.pem"
        root.write_bytes(pki.root.public_bytes(serialization.Encoding.PEM))
        self.env = base_environment()
        self.env.update(
            {
                "MERCHANT_DATA_DIR": str(data_dir),
                "MERCHANT_TRUST_ROOTS": str(root),
                "MERCHANT_CARD_DATA_KEY": b64url_encode(secrets.token_bytes(32)),
                "MERCHANT_PUBLIC_ORIGIN": SHOP_ORIGIN,
                "MERCHANT_SHOP": "0",
                "MERCHANT_LOG_LEVEL": "WARNING",
                "MERCHANT_SWEEP_INTERVAL": "3600",
                **self.extra_env,
            }
        )
        if self.database_url is not None:
            self.env["MERCHANT_DATABASE_URL"] = self.database_url
        from servicekit.api_keys import generate_api_key

        self.api_key = generate_api_key("mk")
        self.pki = pki

    @property
    def resolved_database_url(self) -> str:
        sqlite = self.work / "merchant" / "merchant.sqlite3"
        return self.database_url or f"sqlite+aiosqlite:///{sqlite}"

    async def prepare_database(self) -> None:
        """Schema, the merchant account with ``api_key``, the issuer record."""
        from merchant.issuer_directory import parse_issuer_metadata, save_issuer
        from merchant.migrations import migrate_database
        from merchant.store import Store
        from servicekit.api_keys import hash_api_key
        from servicekit.database import make_engine

        now = datetime.now(UTC)
        issuer_pem = self.pki.issuer_ca.public_bytes(serialization.Encoding.PEM).decode()
        engine = make_engine(self.resolved_database_url)
        try:
            await migrate_database(engine)
            await Store(engine).create_merchant(
                merchant_id="mer_" + secrets.token_hex(6),
                name=SHOP_NAME,
                allowed_origins=(SHOP_ORIGIN,),
                key_hash=hash_api_key(self.api_key),
                now=now,
            )
            metadata = {
                "version": 1,
                "issuerName": "Faults Bank",
                "issuerOrigin": ISSUER_ORIGIN,
                "caCertificate": issuer_pem,
                "binPrefixes": ["411111"],
                "payUrl": f"{ISSUER_ORIGIN}/pay",
            }
            await save_issuer(engine, parse_issuer_metadata(metadata), source="faults", now=now)
        finally:
            await engine.dispose()

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def checkout_body(self) -> dict[str, Any]:
        return {
            "amount": "12.30",
            "currency": "EUR",
            "returnUrl": f"{SHOP_ORIGIN}/checkout/return",
            "card": {"bin": PAN[:6], "last4": PAN[-4:]},
        }

    def issue(self, ocsp_url: str) -> CardholderCredential:
        """Another credential for the same card whose certificate names ``ocsp_url``."""
        card = CardData.parse(
            pan=PAN, expiry=self.card_json["expiry"], security_code=self.card_json["securityCode"]
        )
        return CardholderCredential.issue(
            self.pki,
            card,
            now=datetime.now(UTC) - timedelta(minutes=1),
            crl_url=f"{ISSUER_ORIGIN}/crl",
            ocsp_url=ocsp_url,
        )

    def good_status(self, credential: CardholderCredential) -> bytes:
        """A fresh OCSP ``good`` response for ``credential``, signed by the issuer CA."""
        now = datetime.now(UTC)
        return self.pki.good_status(
            credential.certificate,
            this_update=now - timedelta(minutes=1),
            next_update=now + timedelta(hours=1),
        )

    def verify_body(
        self, checkout: Mapping[str, str], *, credential: CardholderCredential | None = None
    ) -> dict[str, Any]:
        """A good presentation for ``checkout`` (signed now), with the card data. With
        another ``credential``, no status is stapled (the merchant asks its responder)."""
        presentation = (credential or self.credential).present(
            merchant_origin=SHOP_ORIGIN,
            merchant_name=SHOP_NAME,
            amount="12.30",
            currency="EUR",
            checkout_id=checkout["checkoutId"],
            nonce=checkout["nonce"],
            signed_at=datetime.now(UTC),
            status=self.status if credential is None else None,
        )
        return {"presentation": presentation.to_json(), "cardData": self.card_json}

    async def create_checkouts(
        self, session: aiohttp.ClientSession, url: str, count: int
    ) -> list[dict[str, str]]:
        """``count`` checkouts through ``POST /v1/checkouts`` (setup: must all succeed)."""

        async def one() -> dict[str, str]:
            async with session.post(
                f"{url}/v1/checkouts", json=self.checkout_body(), headers=self.headers
            ) as response:
                assert response.status == 201, await response.text()
                return dict(await response.json())

        return list(await asyncio.gather(*(one() for _ in range(count))))


# --- OCSP responders that fail -----------------------------------------------------------


@contextlib.contextmanager
def refusing_port() -> Iterator[int]:
    """A 127.0.0.1 port that refuses connections: bound (so nobody else gets it), never
    listening, so the kernel answers every SYN with a reset."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


class MisbehavingResponder:
    """A TCP server on 127.0.0.1 posing as an OCSP responder.

    ``delay`` None: it accepts connections and never reads or answers. Otherwise it reads
    the HTTP request and answers ``response`` (a valid OCSP response) after ``delay``
    seconds: a merchant that ignored its timeout would get a good answer.
    """

    def __init__(self, response: bytes, delay: float | None) -> None:
        self.response = response
        self.delay = delay
        self.connections = 0
        self.answered = 0
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._closing = asyncio.Event()

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/ocsp"

    async def __aenter__(self) -> MisbehavingResponder:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._closing.set()  # every handler returns instead of waiting on
        self._server.close()
        if self._handlers:
            await asyncio.wait(self._handlers, timeout=5)
        await self._server.wait_closed()

    async def _closed_within(self, seconds: float | None) -> bool:
        """Wait ``seconds`` (None: for ever); True if the server is closing meanwhile."""
        try:
            await asyncio.wait_for(self._closing.wait(), seconds)
        except TimeoutError:
            return False
        return True

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self.connections += 1
        try:
            if self.delay is None:
                await self._closed_within(None)  # accepted, never answered
                return
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.decode("latin-1").split("\r\n"):
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            await reader.readexactly(length)
            if await self._closed_within(self.delay):
                return
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/ocsp-response\r\n"
                + f"Content-Length: {len(self.response)}\r\nConnection: close\r\n\r\n".encode()
                + self.response
            )
            await writer.drain()
            self.answered += 1
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            writer.close()
            self._handlers.discard(task)


# --- what the clients saw -----------------------------------------------------------------


@dataclass
class Tally:
    """Statuses, error codes and transport errors seen by a load of HTTP calls."""

    statuses: Counter[int] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)
    transport_errors: int = 0

    def saw(self, status: int, document: Any) -> None:
        self.statuses[status] += 1
        if isinstance(document, dict) and isinstance(document.get("error"), dict):
            self.codes[str(document["error"].get("code"))] += 1

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)

    @property
    def internal_errors(self) -> int:
        """5xx other than 503 ``service_unavailable`` (a crash, not a declared outage)."""
        return sum(n for status, n in self.statuses.items() if status >= 500 and status != 503)


async def read_json(response: aiohttp.ClientResponse) -> Any:
    """The body as JSON, or None when it is not JSON."""
    try:
        return await response.json(content_type=None)
    except ValueError:
        return None


async def post_until_answered(
    session: aiohttp.ClientSession,
    url: str,
    body: Any,
    *,
    tally: Tally,
    headers: Mapping[str, str] | None = None,
    attempts: int = 100,
) -> tuple[int, Any, int]:
    """POST the identical ``body`` until an HTTP answer arrives, as a client does when its
    connection dies under it. Returns (status, JSON body, transport errors seen)."""
    cut = 0
    for _ in range(attempts):
        try:
            async with session.post(url, json=body, headers=headers) as response:
                document = await read_json(response)
                tally.saw(response.status, document)
                return response.status, document, cut
        except TRANSPORT_ERRORS:
            cut += 1
            tally.transport_errors += 1
            await asyncio.sleep(0.05)
    raise AssertionError(f"no answer from {url} after {attempts} attempts")


# --- an issuer and cardholders enrolling like the Service Worker --------------------------


def issuer_environment(work: Path, *, port: int, database_url: str) -> dict[str, str]:
    """``ISSUER_*`` for a service on 127.0.0.1:port with limits lifted for one client."""
    env = base_environment()
    env.update(
        {
            "ISSUER_DATA_DIR": str(work / "issuer"),
            "ISSUER_PUBLIC_ORIGIN": f"http://127.0.0.1:{port}",
            "ISSUER_DATABASE_URL": database_url,
            # One test client enrolls every card: lift the per-client limits.
            "ISSUER_ENROLL_RATE": "100000",
            "ISSUER_ENROLL_BURST": "100000",
            "ISSUER_ENROLL_MAX_FAILURES": "100000",
            "ISSUER_LOG_LEVEL": "WARNING",
            "ISSUER_SWEEP_INTERVAL": "86400",
        }
    )
    return env


async def create_issuer_api_key(work: Path, url: str, database_url: str) -> str:
    """A back-office key, created in this process on a running issuer's own database."""
    from issuer.api_keys import create_api_key
    from issuer.resources import open_resources
    from issuer.settings import IssuerSettings

    settings = IssuerSettings(
        data_dir=work / "issuer", database_url=database_url, public_origin=url
    )
    now = datetime.now(UTC)
    async with open_resources(settings, now=now) as res:
        return await create_api_key(res, name="faults", now=now)


@dataclass(repr=False)
class Enrollee:
    """One cardholder: its registered card, its key and what its enrollment came to.

    ``repr`` is off: the activation code and the card-data secret must never be printed.
    """

    card_id: str
    activation_code: str
    key: Any = field(default=None)
    secret: bytes = b""
    body: dict[str, Any] = field(default_factory=dict)
    attempts_cut: int = 0
    status: int | None = None
    credential_id: str | None = None

    @property
    def key_sha256(self) -> str:
        import hashlib

        der = self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return hashlib.sha256(der).hexdigest()


async def register_cards(
    session: aiohttp.ClientSession, issuer: str, api_key: str, count: int
) -> list[Enrollee]:
    """Back office: ``count`` new cards (``POST /v1/cards``), each with an activation code."""
    from loadtests.cardholders import card_json, random_pan

    async def one() -> Enrollee:
        async with session.post(
            f"{issuer}/v1/cards",
            json=card_json(random_pan()),
            headers={"Authorization": f"Bearer {api_key}"},
        ) as response:
            assert response.status == 201, response.status
            document = await response.json()
        return Enrollee(card_id=document["cardId"], activation_code=document["activationCode"])

    return list(await asyncio.gather(*(one() for _ in range(count))))


async def prepare_enrollment(
    session: aiohttp.ClientSession, issuer: str, enrollee: Enrollee, *, tally: Tally
) -> None:
    """Fetch a challenge and build the Service Worker's ``POST /v1/enrollment`` body
    (docs/interfaces.md section 2): a fresh P-256 key, a card-data secret, the proof of
    possession over the challenge."""
    from cryptography.hazmat.primitives.asymmetric import ec

    from certs.keys import sign_raw
    from certs.proof_of_possession import PopPurpose, pop_message

    status, document, _ = await post_until_answered(
        session, f"{issuer}/v1/enrollment/challenge", {}, tally=tally, headers={"Origin": issuer}
    )
    assert status in (200, 201), (status, document)
    challenge = document["challenge"]
    enrollee.key = ec.generate_private_key(ec.SECP256R1())
    enrollee.secret = secrets.token_bytes(32)
    message = pop_message(purpose=PopPurpose.ENROLLMENT, origin=issuer, challenge=challenge)
    enrollee.body = {
        "activationCode": enrollee.activation_code,
        "publicKey": b64url_encode(
            enrollee.key.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        ),
        "cardDataSecret": b64url_encode(enrollee.secret),
        "challenge": challenge,
        "signature": b64url_encode(sign_raw(enrollee.key, message)),
    }


async def submit_enrollment(
    session: aiohttp.ClientSession, issuer: str, enrollee: Enrollee, *, tally: Tally
) -> None:
    """``POST /v1/enrollment``, repeated identically after a cut connection (an identical
    retry is answered with the same credential, docs/interfaces.md section 2)."""
    status, document, cut = await post_until_answered(
        session,
        f"{issuer}/v1/enrollment",
        enrollee.body,
        tally=tally,
        headers={"Origin": issuer},
    )
    enrollee.attempts_cut = cut
    enrollee.status = status
    if status in (200, 201):
        enrollee.credential_id = document["credentialId"]
