"""A real S3-protocol server for the object-store tests: OpenStack Swift from Debian's packages, with its
``s3api`` and ``tempauth`` middleware, over a one-node ring on a temporary folder.

``make swift`` installs the packages (swift-proxy, swift-object, swift-container, swift-account); their
daemons are Python programs that run on the system's python3, not on the project's venv. ``SwiftServer``
builds the three rings and writes every server's config file into its folder, starts the four servers on free
ports as the current user and waits until they answer. The only file it reads outside that folder is
/etc/swift/swift.conf (installed by Debian's ``swift`` package: the hash prefix and the storage policy), which
every Swift server reads whatever its config says; nothing is written there.

Tests import the fixtures below (``swift``: one server per pytest process, i.e. per pytest-xdist worker;
``s3_environment``: a new bucket per test, with the variables that point the tracker at it set). Without the
packages those tests are skipped with the missing programs named. For a manual look or a benchmark::

    python tests/swift_server.py     # prints the variables to export, serves until Ctrl-C
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest

SERVERS = ("account", "container", "object", "proxy")
PROGRAMS = tuple(f"swift-{name}-server" for name in SERVERS)
PACKAGES = "swift-proxy swift-object swift-container swift-account"
# tempauth's user: S3 access key "<account>:<user>", secret key its password (test-only values).
ACCESS_KEY = "test:tester"
SECRET_KEY = "testing"
REGION = "us-east-1"  # s3api's default location; SigV4 signs with it


def missing_programs() -> list[str]:
    """The Swift programs not on PATH (or in /usr/bin): empty when a server can be started."""
    return [name for name in PROGRAMS if not _program(name)]


def _program(name: str) -> str | None:
    return shutil.which(name) or (f"/usr/bin/{name}" if os.access(f"/usr/bin/{name}", os.X_OK) else None)


def why_unavailable() -> str | None:
    """The reason no Swift server can be started here, naming what is missing; None when it can."""
    missing = missing_programs()
    if missing:
        return (f"OpenStack Swift is not installed: {', '.join(missing)} not found. `make swift` installs "
                f"Debian's {PACKAGES} (as root or with sudo).")
    return None


_BUILD_RINGS = """
import ast, sys
from swift.common.ring import RingBuilder
folder, ports = sys.argv[1], ast.literal_eval(sys.argv[2])
for name, port in ports.items():
    builder = RingBuilder(6, 1, 1)
    builder.add_dev({"id": 0, "region": 1, "zone": 1, "ip": "127.0.0.1", "port": port, "device": "d1",
                     "weight": 100, "replication_ip": "127.0.0.1", "replication_port": port, "meta": ""})
    builder.rebalance()
    builder.save(f"{folder}/{name}.builder")
    builder.get_ring().save(f"{folder}/{name}.ring.gz")
"""


def _system_python() -> str:
    """The interpreter Swift's programs run on (Debian's python3, which has the ``swift`` package)."""
    program = _program("swift-proxy-server") or "/usr/bin/swift-proxy-server"
    first_line = Path(program).read_text(errors="replace").splitlines()[0]
    return first_line.removeprefix("#!").strip().split()[0] if first_line.startswith("#!") else "/usr/bin/python3"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class SwiftServer:
    """Four Swift servers on 127.0.0.1 serving S3 at ``endpoint`` from files under ``folder``."""

    folder: Path
    ports: dict[str, int] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['proxy']}"

    def environment(self, bucket: str, prefix: str = "") -> dict[str, str]:
        """The variables that point the tracker (and boto3) at ``bucket`` on this server."""
        return {
            "TRACKER_STORE_URL": f"s3://{bucket}/{prefix}".rstrip("/"),
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": REGION,
        }

    def start(self, timeout: float = 120) -> SwiftServer:
        self.ports = {name: free_port() for name in SERVERS}
        self._write_configuration()
        logs = self.folder / "logs"
        logs.mkdir(exist_ok=True)
        for name in SERVERS:
            log = open(logs / f"{name}.log", "ab")  # noqa: SIM115 (closed with the process, in stop)
            self.processes[name] = subprocess.Popen(
                [_program(f"swift-{name}-server") or "", str(self.folder / f"{name}-server.conf")],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
            log.close()
        try:
            self._wait(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)  # its own session: the server and any child it forked
        for process in self.processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.processes.clear()

    def log_tail(self, lines: int = 20) -> str:
        parts = []
        for name in SERVERS:
            path = self.folder / "logs" / f"{name}.log"
            if path.exists():
                text = path.read_text(errors="replace").splitlines()[-lines:]
                parts.append(f"--- {name} ---\n" + "\n".join(text))
        return "\n".join(parts)

    def create_bucket(self, name: str | None = None) -> str:
        """A new, empty bucket (a Swift container of the test account); returns its name."""
        name = name or f"t-{uuid.uuid4().hex[:16]}"
        client = boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=ACCESS_KEY,
                              aws_secret_access_key=SECRET_KEY, region_name=REGION)
        client.create_bucket(Bucket=name)
        return name

    def _wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"swift-{name}-server stopped (exit {process.returncode}):\n{self.log_tail()}")
            if self._answers():
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"Swift did not answer within {timeout:.0f} s:\n{self.log_tail()}")
            time.sleep(0.2)

    def _answers(self) -> bool:
        """Whether the four servers answer (each has the healthcheck middleware first in its pipeline)."""
        for name in SERVERS:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.ports[name]}/healthcheck", timeout=2):
                    pass
            except (urllib.error.URLError, OSError):
                return False
        return True

    def _write_configuration(self) -> None:
        folder = self.folder
        devices = folder / "devices"
        (devices / "d1").mkdir(parents=True, exist_ok=True)
        (folder / "run").mkdir(exist_ok=True)
        # The three rings in one run of Debian's python3 (each swift-ring-builder command is a Python start-up
        # of its own: nine of them took ~40 s on a busy two-core machine): 2^6 partitions, one replica, one
        # device each.
        rings = {ring: self.ports[ring] for ring in ("account", "container", "object")}
        result = subprocess.run([_system_python(), "-c", _BUILD_RINGS, str(folder), repr(rings)],
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"building Swift's rings failed:\n{result.stdout}{result.stderr}")
        common = (f"[DEFAULT]\nbind_ip = 127.0.0.1\nswift_dir = {folder}\ndevices = {devices}\n"
                  f"mount_check = false\nworkers = 0\nuser = {pwd.getpwuid(os.getuid()).pw_name}\n"
                  # no syslog in a test machine or container: log to a folder-local UDP sink nobody reads
                  "log_facility = LOG_LOCAL0\nlog_udp_host = 127.0.0.1\nlog_udp_port = 9\nlog_level = WARNING\n")
        for name in ("account", "container", "object"):
            (folder / f"{name}-server.conf").write_text(
                common + f"bind_port = {self.ports[name]}\n\n"
                f"[pipeline:main]\npipeline = healthcheck {name}-server\n\n"
                f"[app:{name}-server]\nuse = egg:swift#{name}\n\n"
                "[filter:healthcheck]\nuse = egg:swift#healthcheck\n")
        (folder / "proxy-server.conf").write_text(
            common + f"bind_port = {self.ports['proxy']}\n\n"
            "[pipeline:main]\n"
            "pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats s3api tempauth "
            "copy slo dlo proxy-logging proxy-server\n\n"
            "[app:proxy-server]\nuse = egg:swift#proxy\naccount_autocreate = true\n\n"
            "[filter:catch_errors]\nuse = egg:swift#catch_errors\n\n"
            "[filter:gatekeeper]\nuse = egg:swift#gatekeeper\n\n"
            "[filter:healthcheck]\nuse = egg:swift#healthcheck\n\n"
            "[filter:proxy-logging]\nuse = egg:swift#proxy_logging\n\n"
            # no memcached: the cache middleware is still needed in the pipeline (s3api and tempauth use it
            # when present), and an unreachable memcache only means no caching
            "[filter:cache]\nuse = egg:swift#memcache\nmemcache_servers = 127.0.0.1:1\n\n"
            "[filter:listing_formats]\nuse = egg:swift#listing_formats\n\n"
            f"[filter:s3api]\nuse = egg:swift#s3api\nlocation = {REGION}\n"
            "s3_acl = false\ncheck_bucket_owner = false\n\n"
            f"[filter:tempauth]\nuse = egg:swift#tempauth\nuser_test_tester = {SECRET_KEY} .admin\n\n"
            "[filter:copy]\nuse = egg:swift#copy\n\n"
            "[filter:slo]\nuse = egg:swift#slo\n\n"
            "[filter:dlo]\nuse = egg:swift#dlo\n")


@pytest.fixture(scope="session")
def swift(tmp_path_factory) -> Iterator[SwiftServer]:
    """A Swift server for this test process, stopped at its end; skips the test when Swift is not installed."""
    reason = why_unavailable()
    if reason:
        pytest.skip(reason)
    for attempt in range(3):
        try:
            # Ports are chosen free, then bound by the servers: another process may take one in between.
            server = SwiftServer(tmp_path_factory.mktemp("swift")).start()
            break
        except RuntimeError:
            if attempt == 2:
                raise
    yield server
    server.stop()


@pytest.fixture
def s3_environment(swift, monkeypatch) -> dict[str, str]:
    """A new, empty bucket; ``TRACKER_STORE_URL`` (with a prefix, as a chain would use) and the ``AWS_*``
    variables point at it for this test and the commands it starts. Returns those variables."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)  # a developer's own AWS settings must not leak into the test
    environment = swift.environment(swift.create_bucket(), prefix="clinic-a")
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return environment


def main() -> int:
    reason = why_unavailable()
    if reason:
        print(reason, file=sys.stderr)
        return 1
    folder = Path(tempfile.mkdtemp(prefix="swift-"))
    server = SwiftServer(folder).start()
    bucket = server.create_bucket(sys.argv[1] if len(sys.argv) > 1 else "tracker")
    for name, value in server.environment(bucket).items():
        print(f"export {name}={value}")
    print(f"# Swift serving from {folder}; Ctrl-C stops it", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # a kill stops the servers too
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
