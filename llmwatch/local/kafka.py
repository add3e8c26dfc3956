"""A real single-node Apache Kafka broker (KRaft mode) run from Maven Central's jars.

Used by the tests, `llmwatch demo` and the benchmarks. The jars are resolved once per machine
with Maven into a cache directory (`LLMWATCH_KAFKA_HOME`, default
`~/.cache/llmwatch/kafka-<version>`); each broker gets its own temporary data directory and a
free loopback port, and is stopped (and its data removed) when the context exits.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from types import TracebackType

KAFKA_VERSION = "4.4.0"
POM = Path(__file__).with_name("pom.xml")
_MAIN = "kafka.Kafka"
_STORAGE_TOOL = "kafka.tools.StorageTool"


class KafkaUnavailable(RuntimeError):
    pass


def kafka_home() -> Path:
    default = Path.home() / ".cache" / "llmwatch" / f"kafka-{KAFKA_VERSION}"
    return Path(os.environ.get("LLMWATCH_KAFKA_HOME", default))


def ensure_jars(home: Path | None = None) -> Path:
    """Resolve the broker's jars with Maven unless they are already there; returns libs/."""
    libs = (home or kafka_home()) / "libs"
    if (libs / ".complete").exists():
        return libs
    if shutil.which("mvn") is None or shutil.which("java") is None:
        raise KafkaUnavailable(
            "Apache Kafka needs Java 17+ and Maven to fetch its jars; install them "
            "(apt-get install openjdk-17-jre-headless maven) or run `make setup`."
        )
    libs.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["mvn", "-q", "-B", "-f", str(POM), "dependency:copy-dependencies",
         f"-DoutputDirectory={libs}"],
        capture_output=True, text=True,
    )
    if result.returncode != 0:
        raise KafkaUnavailable(f"Maven could not resolve Kafka {KAFKA_VERSION}:\n{result.stdout}")
    (libs / ".complete").touch()
    return libs


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(n: int) -> list[int]:
    """n distinct free loopback ports (held open together while chosen, so never equal)."""
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


class LocalKafka:
    """`with LocalKafka() as kafka: kafka.bootstrap` — a broker for as long as the block runs."""

    def __init__(self, *, port: int | None = None, data_dir: Path | None = None,
                 partitions: int = 6, heap_mb: int = 512) -> None:
        ports = free_ports(2)
        self.port = port or ports[0]
        self.controller_port = ports[1] if ports[1] != self.port else ports[0]
        self._own_dir = data_dir is None
        self.dir = data_dir or Path(tempfile.mkdtemp(prefix="llmwatch-kafka-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        self.partitions = partitions
        self.heap_mb = heap_mb
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.dir / "broker.log"

    def start(self, timeout_s: float = 90.0) -> LocalKafka:
        libs = ensure_jars()
        config = self._write_config()
        if not (self.dir / "data" / "meta.properties").exists():
            self._java(libs, _STORAGE_TOOL, "format", "-t", _cluster_id(), "-c", str(config))
        with self.log_file.open("ab") as log:
            self._proc = subprocess.Popen(
                self._java_cmd(libs, _MAIN, str(config)), stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_ready(timeout_s)
        return self

    def stop(self, timeout_s: float = 30.0) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def kill(self) -> None:
        """Stop abruptly (SIGKILL), as a crash would."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None

    def close(self) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> LocalKafka:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _write_config(self) -> Path:
        path = self.dir / "server.properties"
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},"
                         f"CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.dir / "data"),
            "num.partitions": str(self.partitions),
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "10",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "true",
        }
        path.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        return path

    def _java_cmd(self, libs: Path, main: str, *args: str) -> list[str]:
        return [
            "java", f"-Xmx{self.heap_mb}m", "-Xss1m", "-XX:+UseG1GC",
            "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
            "-Dorg.slf4j.simpleLogger.showDateTime=true",
            "-cp", f"{libs}/*", main, *args,
        ]

    def _java(self, libs: Path, main: str, *args: str) -> None:
        result = subprocess.run(self._java_cmd(libs, main, *args), capture_output=True, text=True)
        if result.returncode != 0:
            raise KafkaUnavailable(f"{main} {args[0]} failed:\n{result.stdout}{result.stderr}")

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise KafkaUnavailable(f"Kafka exited early; see {self.log_file}:\n{self._tail()}")
            if _metadata_ready(self.bootstrap):
                return
            time.sleep(0.3)
        self.stop()
        raise KafkaUnavailable(f"Kafka did not start in {timeout_s:.0f}s; see {self.log_file}")

    def _tail(self) -> str:
        return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-20:])


def _cluster_id() -> str:
    """A random cluster id as Kafka makes them (Uuid.randomUuid): base64url of 16 bytes, never
    starting with '-' — kafka-storage would read that as an option (1 start in 64 failed)."""
    import base64

    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


def _metadata_ready(bootstrap: str) -> bool:
    """True once the broker answers a metadata request (not merely accepts TCP)."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    except (KafkaError, OSError, ValueError):
        return False
    try:
        admin.list_topics()
        return True
    except (KafkaError, OSError):
        return False
    finally:
        admin.close()
