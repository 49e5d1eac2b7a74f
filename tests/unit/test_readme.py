"""The README's generated tables are current (run `okrate readme` to refresh them)."""

from pathlib import Path

from okrate.readme_sections import generated_sections, section

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_generated_sections_are_current():
    for name, body in generated_sections().items():
        if name == "benchmarks":
            continue  # measured figures: `okrate bench all` rewrites them, with the machine they came from
        assert section(README, name) == body.rstrip("\n"), f"README section {name!r} is stale: run `okrate readme`"


def test_every_seed_variable_is_documented():
    for name in ("WEBHOOK_URL", "WEBHOOK_PATH", "WEBHOOK_SECRET", "OKDESK_API_URL", "OKDESK_API_TOKEN",
                 "OKDESK_PORTAL_URL", "KAFKA_BOOTSTRAP_SERVERS", "TOPIC_PREFIX"):
        assert f"`{name}`" in README
