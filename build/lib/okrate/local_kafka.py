"""A single-node Apache Kafka 4.x broker (KRaft, broker+controller in one JVM) without Docker.

The jars come from Maven Central through the machine's `mvn` and the pom beside this module, into
a cache folder shared by every checkout; the data folder is the event store and survives restarts.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

KAFKA_DIR = resources.files("okrate") / "kafka"
HEAP = "512m"
READY_TIMEOUT_S = 120.0


class KafkaLaunchError(RuntimeError):
    pass


def pinned_kafka_version() -> str:
    pom = (KAFKA_DIR / "pom.xml").read_text()
    match = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", pom)
    assert match, "pom.xml has no kafka.version"
    return match.group(1)


def default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "okrate"


def resolve_jars(cache_dir: Path | None = None, *, log=print) -> Path:
    """Folder of the broker's jars; runs `mvn` only when the cache lacks this version."""
    version = pinned_kafka_version()
    lib = (cache_dir or default_cache_dir()) / f"kafka-{version}" / "lib"
    done = lib / ".complete"
    if done.exists():
        return lib
    if shutil.which("mvn") is None:
        raise KafkaLaunchError("`mvn` is not on PATH: it is needed once to fetch the Kafka jars")
    if shutil.which("java") is None:
        raise KafkaLaunchError("`java` (17 or newer) is not on PATH")
    log(f"resolving Apache Kafka {version} from Maven Central into {lib} (once)")
    tmp = lib.with_name("lib.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    with resources.as_file(KAFKA_DIR / "pom.xml") as pom:
        result = subprocess.run(
            ["mvn", "-q", "-B", "-f", str(pom), "dependency:copy-dependencies",
             f"-DoutputDirectory={tmp}", "-DincludeScope=runtime"],
            capture_output=True, text=True, check=False,
        )
    if result.returncode != 0:
        raise KafkaLaunchError(f"mvn could not resolve Kafka {version}:\n{result.stdout[-3000:]}{result.stderr[-2000:]}")
    (tmp / ".complete").write_text(version)
    shutil.rmtree(lib, ignore_errors=True)
    tmp.rename(lib)
    return lib


def new_cluster_id() -> str:
    """A base64url 16-byte UUID, as `kafka-storage random-uuid` makes (never starting with '-')."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


def server_properties(port: int, controller_port: int, log_dir: Path) -> str:
    return "\n".join([
        "process.roles=broker,controller",
        "node.id=1",
        f"controller.quorum.voters=1@127.0.0.1:{controller_port}",
        f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        f"advertised.listeners=PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names=CONTROLLER",
        "inter.broker.listener.name=PLAINTEXT",
        "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        f"log.dirs={log_dir}",
        # One node: every internal topic has a single replica.
        "offsets.topic.replication.factor=1",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "share.coordinator.state.topic.replication.factor=1",
        "share.coordinator.state.topic.min.isr=1",
        "group.initial.rebalance.delay.ms=0",
        # okrate creates its topics from the catalogue; a typo must not invent a topic.
        "auto.create.topics.enable=false",
        "num.partitions=1",
        "",
    ])


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def broker_answers(bootstrap: str, timeout: float = 3.0) -> bool:
    from confluent_kafka.admin import AdminClient

    host, _, port = bootstrap.rpartition(":")
    if not port_open(host or "127.0.0.1", int(port)):
        return False
    try:
        AdminClient({"bootstrap.servers": bootstrap, "log_level": 0}).list_topics(timeout=timeout)
        return True
    except Exception:
        return False


@dataclass
class BrokerStatus:
    running: bool
    pid: int | None
    bootstrap: str
    version: str
    log_file: Path
    topics: dict[str, int]


class LocalKafka:
    """One broker whose files all live in `data_dir`: storage, settings, pid, cluster id, logs."""

    def __init__(self, data_dir: Path | str, port: int = 9092, cache_dir: Path | None = None):
        self.data_dir = Path(data_dir).resolve()
        self.port = port
        self.controller_port = port + 1
        self.cache_dir = cache_dir
        self.pid_file = self.data_dir / "kafka.pid"
        self.log_file = self.data_dir / "logs" / "kafka.log"
        self.props_file = self.data_dir / "server.properties"
        self.cluster_id_file = self.data_dir / "cluster-id"
        self.storage_dir = self.data_dir / "storage"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return None
        return pid if b"kafka.Kafka" in cmdline else None

    def _java(self, lib: Path, *args: str, heap: str | None = None) -> list[str]:
        with resources.as_file(KAFKA_DIR / "log4j2.properties") as log_cfg:
            cfg = str(log_cfg)
        cmd = ["java"]
        if heap:
            cmd += [f"-Xmx{heap}", f"-Xms{heap}", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20"]
        cmd += [
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={cfg}",
            f"-Dkafka.logs.dir={self.log_file.parent}",
            "-cp", f"{lib}/*",
            *args,
        ]
        return cmd

    def _format_storage(self, lib: Path) -> None:
        if (self.storage_dir / "meta.properties").exists():
            return
        cluster_id = self.cluster_id_file.read_text().strip() if self.cluster_id_file.exists() else new_cluster_id()
        self.cluster_id_file.write_text(cluster_id)
        result = subprocess.run(
            self._java(lib, "kafka.tools.StorageTool", "format", "-t", cluster_id,
                       "-c", str(self.props_file), "--ignore-formatted"),
            capture_output=True, text=True, check=False,
        )
        if result.returncode != 0:
            raise KafkaLaunchError(f"formatting KRaft storage failed:\n{result.stdout}{result.stderr}")

    def up(self, *, log=print, timeout: float = READY_TIMEOUT_S) -> bool:
        """Start the broker unless it runs; True when this call started it."""
        if self._pid() is not None:
            if broker_answers(self.bootstrap):
                log(f"Kafka is already running at {self.bootstrap} (pid {self._pid()})")
                return False
            self._wait_ready(timeout, log)
            return False
        self.pid_file.unlink(missing_ok=True)  # stale, after a crash
        if port_open("127.0.0.1", self.port) or port_open("127.0.0.1", self.controller_port):
            raise KafkaLaunchError(
                f"port {self.port} or {self.controller_port} is taken by another program; "
                "choose another with --port, or set KAFKA_BOOTSTRAP_SERVERS to use that broker"
            )
        lib = resolve_jars(self.cache_dir, log=log)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.storage_dir.mkdir(parents=True, exist_ok=True)
        self.props_file.write_text(server_properties(self.port, self.controller_port, self.storage_dir))
        self._format_storage(lib)
        out = open(self.data_dir / "kafka.out", "ab")
        proc = subprocess.Popen(
            self._java(lib, "kafka.Kafka", str(self.props_file), heap=HEAP),
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,  # survives the shell that started it; `down` stops it
        )
        out.close()
        self.pid_file.write_text(str(proc.pid))
        log(f"starting Kafka {pinned_kafka_version()} at {self.bootstrap} (pid {proc.pid}, data {self.data_dir})")
        self._wait_ready(timeout, log, proc)
        return True

    def _wait_ready(self, timeout: float, log, proc: subprocess.Popen | None = None) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                self.pid_file.unlink(missing_ok=True)
                raise KafkaLaunchError(f"the broker exited with {proc.returncode}; see {self.log_file}:\n{self._log_tail()}")
            if broker_answers(self.bootstrap, timeout=2.0):
                log(f"Kafka is ready at {self.bootstrap}")
                return
            time.sleep(0.3)
        raise KafkaLaunchError(f"the broker did not answer within {timeout:.0f}s; see {self.log_file}:\n{self._log_tail()}")

    def _log_tail(self, lines: int = 30) -> str:
        parts = []
        for path in (self.data_dir / "kafka.out", self.log_file):
            if path.exists():
                parts.extend(path.read_text(errors="replace").splitlines()[-lines:])
        return "\n".join(parts)

    def down(self, *, log=print, timeout: float = 60.0) -> bool:
        pid = self._pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            log("Kafka is not running")
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists() and not _is_zombie(pid):
            time.sleep(0.2)
        if Path(f"/proc/{pid}").exists() and not _is_zombie(pid):
            log(f"Kafka did not stop within {timeout:.0f}s: killing it")
            os.kill(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)
        log("Kafka stopped")
        return True

    def status(self) -> BrokerStatus:
        pid = self._pid()
        topics: dict[str, int] = {}
        running = pid is not None and broker_answers(self.bootstrap)
        if running:
            topics = list_topics(self.bootstrap)
        return BrokerStatus(running, pid, self.bootstrap, pinned_kafka_version(), self.log_file, topics)


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True


def list_topics(bootstrap: str) -> dict[str, int]:
    from confluent_kafka.admin import AdminClient

    meta = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10)
    return {name: len(t.partitions) for name, t in sorted(meta.topics.items()) if not name.startswith("__")}
