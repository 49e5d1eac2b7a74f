"""What `okrate run` starts: the services as child processes, pointed at the stand-ins in
sandbox mode (neither TELEGRAM_BOT_TOKEN nor OKDESK_API_URL set)."""

from __future__ import annotations

from base.settings import Settings
from okrate.supervisor import Child, okrate_child


def plan_children(settings: Settings, bootstrap: str) -> list[Child]:
    env = {"KAFKA_BOOTSTRAP_SERVERS": bootstrap}
    children = []
    if settings.sandbox_mode:
        from sandbox.service import SandboxPorts, sandbox_env

        env.update(sandbox_env("127.0.0.1", SandboxPorts(settings.sandbox_port)))
        children.append(okrate_child("sandbox", "sandbox", env=env))
    children += [
        okrate_child("ingest", "ingest", "--workers", "1", env=env),
        okrate_child("streams", "streams", env=env),
        okrate_child("notifier", "notifier", env=env),
    ]
    return children


def ingest_workers(bootstrap: str, count: int, metrics_dir: str) -> list[Child]:
    """`okrate ingest --workers N`: N ingest processes sharing the port, each with its producer,
    their metrics summed over `metrics_dir` (prometheus_client's multiprocess mode)."""
    env = {"KAFKA_BOOTSTRAP_SERVERS": bootstrap, "PROMETHEUS_MULTIPROC_DIR": metrics_dir}
    return [okrate_child(f"ingest-{n}", "ingest", "--workers", "1", "--reuse-port", env=env)
            for n in range(1, count + 1)]


def prepare_sandbox(settings: Settings, bootstrap: str, echo=print) -> None:
    """Links the sandbox's demo client (contact 95) to its Telegram user once, and says where to look."""
    from base.links import Links, link_record
    from sandbox.service import DEMO_USER_ID, SandboxPorts

    links = Links(settings, bootstrap)
    if "95" not in links.current():
        links.write([link_record("95", "linked", "operator", DEMO_USER_ID)])
    ports = SandboxPorts(settings.sandbox_port)
    echo("Sandbox mode: no TELEGRAM_BOT_TOKEN and no OKDESK_API_URL, so okrate talks to local stand-ins.")
    echo(f"  Open http://127.0.0.1:{ports.page}/ : resolve an issue on the Okdesk side, rate it in the chat.")
    echo(f"  Statistics: http://127.0.0.1:{settings.stats_port}/stats")
