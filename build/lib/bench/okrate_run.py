"""`okrate run` in sandbox mode against a broker of its own, for the end-to-end benchmark and the
chaos run (`python -m tests.chaos`): a LocalKafka in a scratch folder, the supervised group with
the Telegram and Okdesk stand-ins, optional extra streams workers, and the means to hurt them
(kill -9 a child, restart the broker). Loopback only; `stop()` ends everything it started.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from bench.common import free_ports
from okrate.local_kafka import LocalKafka

CHILD_NAMES = ("sandbox", "ingest", "streams", "notifier")


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _pids_of_children(parent: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(parent)], capture_output=True, text=True, check=False).stdout
    return [int(p) for p in out.split()]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def process_cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class OkrateRun:
    """One sandbox-mode `okrate run` with its own broker, all in `workdir`."""

    def __init__(self, workdir: Path, *, extra_env: dict[str, str] | None = None, log=print,
                 log_level: str = "INFO"):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log = log
        kafka_port = free_ports(2)
        self.broker = LocalKafka(self.workdir / "kafka", kafka_port)
        base = free_ports(2)
        page = free_ports(3)  # the page, then the Bot API and the Okdesk stand-ins
        self.ingest_port, self.stats_port, self.page_port = base, base + 1, page
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "OKDESK_", "WEBHOOK_"))}
        env.update({
            "KAFKA_BOOTSTRAP_SERVERS": self.broker.bootstrap, "TOPIC_PREFIX": "",
            "STREAMS_DATA_DIR": str(self.workdir / "streams-1"), "STREAMS_STORE": "rocksdb://",
            "INGEST_HOST": "127.0.0.1", "INGEST_PORT": str(base), "STATS_PORT": str(base + 1),
            "SANDBOX_PORT": str(page), "LOG_LEVEL": log_level, "ADMIN_TOKEN": "",
        })
        env.update(extra_env or {})
        self.env = env
        self.run_log = self.workdir / "run.log"
        self.proc: subprocess.Popen | None = None
        self.extra: list[tuple[subprocess.Popen, Path]] = []
        self._log_files: list = []

    # -- addresses -----------------------------------------------------------------------------

    @property
    def bootstrap(self) -> str:
        return self.broker.bootstrap

    @property
    def page(self) -> str:
        return f"http://127.0.0.1:{self.page_port}"

    @property
    def telegram(self) -> str:
        return f"http://127.0.0.1:{self.page_port + 1}"

    @property
    def okdesk(self) -> str:
        return f"http://127.0.0.1:{self.page_port + 2}"

    @property
    def ingest(self) -> str:
        return f"http://127.0.0.1:{self.ingest_port}"

    @property
    def webhook_url(self) -> str:
        return f"{self.ingest}/okdesk-webhook"

    # -- start and stop ------------------------------------------------------------------------

    def start(self, *, timeout: float = 180.0) -> None:
        self.broker.up(log=self.log)
        out = (self.run_log).open("ab")
        self._log_files.append(out)
        self.proc = subprocess.Popen([sys.executable, "-m", "okrate.cli", "run"], env=self.env, cwd=self.workdir,
                                     stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        self.log(f"okrate run: pid {self.proc.pid}; ingest {self.ingest}, page {self.page}, log {self.run_log}")
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 180.0) -> None:
        """The stand-ins and the ingest answer, the notifier polls, the streams worker serves its web
        port (that it has its partitions is for the caller to prove, with a first round trip)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"okrate run exited with {self.proc.returncode}:\n{self.log_tail()}")
            text = self.run_log.read_bytes()
            if (_port_open(self.page_port + 2) and _port_open(self.ingest_port)
                    and _port_open(self.stats_port) and b"notifier running" in text):
                return
            time.sleep(0.5)
        raise TimeoutError(f"okrate run was not ready within {timeout:.0f}s:\n{self.log_tail()}")

    def start_streams_worker(self, index: int, *, timeout: float = 120.0) -> subprocess.Popen:
        """One more streams worker sharing the partitions (its own data dir and web port)."""
        log_path = self.workdir / f"streams-{index}.log"
        out = log_path.open("ab")
        self._log_files.append(out)
        port = free_ports(1)
        proc = subprocess.Popen(
            [sys.executable, "-m", "okrate.cli", "streams", "--data-dir", str(self.workdir / f"streams-{index}"),
             "--web-port", str(port)],
            env=self.env, cwd=self.workdir, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.extra.append((proc, log_path))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not _port_open(port):
            if proc.poll() is not None:
                raise RuntimeError(f"streams worker {index} exited with {proc.returncode}")
            time.sleep(0.3)
        self.log(f"streams worker {index}: pid {proc.pid}, web port {port}, log {log_path}")
        return proc

    def stop(self) -> None:
        """The services (see `stop_services`), then the broker."""
        try:
            self.stop_services()
        finally:
            try:
                self.broker.down(log=self.log)
            finally:
                for f in self._log_files:
                    f.close()
                self._log_files.clear()

    def stop_services(self) -> None:
        """SIGTERM to the group (it stops its children gracefully), then whatever is left is
        killed; the extra workers likewise. The broker keeps running."""
        for proc, _ in self.extra:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        if self.proc is not None:
            children = _pids_of_children(self.proc.pid)
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(60)
                except subprocess.TimeoutExpired:
                    self.log("okrate run did not stop within 60s: killing it and its children")
                    self.proc.kill()
                    self.proc.wait(10)
            for pid in children + _pids_of_children(self.proc.pid):
                if _alive(pid):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
        for proc, _ in self.extra:
            try:
                proc.wait(40)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)

    def __enter__(self) -> OkrateRun:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- children and faults -------------------------------------------------------------------

    def child_pids(self) -> dict[str, int]:
        """name → pid of the supervised children now alive (found with pgrep -P)."""
        assert self.proc is not None
        found: dict[str, int] = {}
        for pid in _pids_of_children(self.proc.pid):
            if not _alive(pid):
                continue
            words = _cmdline(pid).split()
            if "okrate.cli" in words:
                name = words[words.index("okrate.cli") + 1] if words.index("okrate.cli") + 1 < len(words) else ""
                if name in CHILD_NAMES:
                    found[name] = pid
        return found

    def kill_child(self, name: str) -> int:
        pid = self.child_pids()[name]
        os.kill(pid, signal.SIGKILL)
        return pid

    def wait_child_back(self, name: str, old_pid: int, timeout: float = 90.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid = self.child_pids().get(name)
            if pid is not None and pid != old_pid:
                return pid
            time.sleep(0.2)
        raise TimeoutError(f"the supervisor did not restart {name} within {timeout:.0f}s")

    def restart_broker(self, pause: float = 2.0) -> float:
        """LocalKafka.down, a pause, LocalKafka.up on the same data dir; seconds it was away."""
        began = time.monotonic()
        self.broker.down(log=self.log)
        time.sleep(pause)
        self.broker.up(log=self.log)
        return time.monotonic() - began

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time (user + system) used so far by each child, the extra workers and the broker."""
        pids = dict(self.child_pids())
        for i, (proc, _) in enumerate(self.extra, start=2):
            if proc.poll() is None:
                pids[f"streams-{i}"] = proc.pid
        broker = self.broker._pid()
        if broker is not None:
            pids["kafka"] = broker
        return {name: cpu for name, pid in pids.items() if (cpu := process_cpu_seconds(pid)) is not None}

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.run_log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
