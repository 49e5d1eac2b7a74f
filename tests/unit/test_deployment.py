"""The Dockerfile and the compose file agree with the code: names, ports, variables."""

from __future__ import annotations

from pathlib import Path

import yaml

from base.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.kafka.yml").read_text())
SETTINGS = {name.upper() for name in Settings.model_fields}


def test_every_service_runs_an_okrate_command_with_known_variables():
    services = COMPOSE["services"]
    assert {"kafka", "ingest", "streams", "notifier"} <= set(services)
    for name in ("ingest", "streams", "notifier"):
        service = services[name]
        assert service["command"] == [name]
        assert set(service.get("environment", {})) <= SETTINGS, name
        assert service["environment"]["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:19092"


def test_the_ingest_is_the_seeds_okdesk_webhook_1_on_the_ingest_port():
    ingest = COMPOSE["services"]["ingest"]
    assert ingest["container_name"] == "okdesk_webhook_1"
    port = Settings.model_fields["ingest_port"].default
    assert f"{port}:{port}" in ingest["ports"]
    assert ingest["environment"]["INGEST_PORT"] == str(port)


def test_statistics_stay_on_their_own_port_off_the_public_network():
    streams = COMPOSE["services"]["streams"]
    port = Settings.model_fields["stats_port"].default
    assert streams["ports"] == [f"127.0.0.1:{port}:{port}"]


def test_the_kafka_service_has_an_internal_listener_the_services_use():
    env = COMPOSE["services"]["kafka"]["environment"]
    assert "PLAINTEXT://kafka:19092" in env["KAFKA_ADVERTISED_LISTENERS"]


def test_the_dockerfile_installs_the_packages_and_exposes_the_ports():
    text = (ROOT / "Dockerfile").read_text()
    for package in ("okrate", "ingest", "streams", "notifier", "schemas", "sandbox"):
        assert f"COPY {package} {package}" in text
    assert "EXPOSE 8080 6066" in text
    assert 'ENTRYPOINT ["okrate"]' in text
    assert "STREAMS_DATA_DIR" in text and "STREAMS_DATA_DIR" in SETTINGS
