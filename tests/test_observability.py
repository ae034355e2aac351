"""What an operator watches a region with (``infra/``): the compose file, Prometheus' scrape
configuration and alert rules, Grafana's dashboards, all reading metrics the five services
really export; and one trace from an HTTP request through Kafka into the consumers of other
services."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client.parser import text_string_to_metric_families

from interlocality.common.settings import load_settings
from interlocality.common.testing import eventually, signed_in, trusting_tests_issuer
from interlocality.common.topics_admin import ensure_topics
from interlocality.contracts.topics import STUDENTS
from interlocality.operator.services import SERVICE_PORTS, SERVICE_SETTINGS, SERVICES, app_module

INFRA = Path(__file__).resolve().parents[1] / "infra"
COMPOSE = INFRA / "compose.yaml"
PROMETHEUS = INFRA / "prometheus" / "prometheus.yml"
ALERTS = INFRA / "prometheus" / "alerts.yml"
DASHBOARDS = sorted((INFRA / "grafana" / "dashboards").glob("*.json"))
REGION = "tobs"
PYTHON = "http://data.europa.eu/esco/skill/ccd0a1d9-afda-43d9-b901-96344886e14d"
# series Prometheus makes itself for every target, not read from /metrics
PROMETHEUS_OWN = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
# what is left of an expression once strings, label matchers, ranges and groupings are
# gone: identifiers, of which these are PromQL's own
PROMQL_WORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
    "unless", "offset", "inf", "nan",
}  # fmt: skip


# -- the running region -------------------------------------------------------------------


@pytest.fixture(scope="module")
def region(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, tuple[TestClient, InMemorySpanExporter]]]:
    """The five services of one region, started in this process on the test broker, each
    recording its finished spans in memory."""
    asyncio.run(ensure_topics(kafka_bootstrap, REGION))
    var = tmp_path_factory.mktemp("observed")
    started: dict[str, tuple[TestClient, InMemorySpanExporter]] = {}
    try:
        for service in SERVICES:
            settings = load_settings(
                SERVICE_SETTINGS[service],
                region=REGION,
                kafka_bootstrap_servers=kafka_bootstrap,
                var_dir=var,
                mail_sink_dir=str(var / "mail"),
                log_format="console",
                **trusting_tests_issuer(),
            )
            app = app_module(service).create_app(settings)
            exporter = InMemorySpanExporter()
            app.state.runtime.tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
            client = TestClient(app)
            client.__enter__()
            started[service] = (client, exporter)
        yield started
    finally:
        for client, _ in started.values():
            client.__exit__(None, None, None)


def exported_names(client: TestClient) -> set[str]:
    """The series names a service's ``/metrics`` answers with, read as Prometheus reads
    them (a labelled metric none of whose series exist yet is still declared)."""
    answer = signed_in(TestClient(client.app), "service").get("/metrics")
    assert answer.status_code == 200, answer.text
    names: set[str] = set()
    for family in text_string_to_metric_families(answer.text):
        names.update(sample.name for sample in family.samples)
        if family.type == "counter":
            names.add(f"{family.name}_total")
        elif family.type == "histogram":
            names.update(f"{family.name}_{part}" for part in ("bucket", "sum", "count"))
        else:
            names.add(family.name)
    return names


def metric_names(expression: str) -> set[str]:
    """The metric names a PromQL expression reads."""
    rest = re.sub(r'"(?:[^"\\]|\\.)*"', "", expression)  # strings
    rest = re.sub(r"\{[^}]*\}", "", rest)  # label matchers
    rest = re.sub(r"\[[^\]]*\]", "", rest)  # ranges
    rest = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", rest)
    names = set()
    for match in re.finditer(r"(?<![\w.])[A-Za-z_:][A-Za-z0-9_:]*", rest):
        followed = rest[match.end() :].lstrip()
        if followed.startswith("(") or match.group() in PROMQL_WORDS:
            continue  # a function or aggregation, or a keyword
        names.add(match.group())
    return names


def test_the_metric_name_parser_finds_what_an_expression_reads() -> None:
    expression = (
        'histogram_quantile(0.95, sum by (service, le) (rate(a_seconds_bucket{service=~"$s",'
        'route="/v1/x"}[5m]))) / ignoring (route) sum without (x) (b_total offset 5m) > bool 2'
    )
    assert metric_names(expression) == {"a_seconds_bucket", "b_total"}


def alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(ALERTS.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def dashboard_expressions() -> dict[str, list[str]]:
    expressions: dict[str, list[str]] = {}
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        for panel in dashboard["panels"]:
            expressions.setdefault(path.name, []).extend(t["expr"] for t in panel["targets"])
    return expressions


def test_every_metric_the_dashboards_and_alerts_read_is_exported_by_a_service(
    region: dict[str, tuple[TestClient, InMemorySpanExporter]],
) -> None:
    exported: set[str] = set()
    for client, _ in region.values():
        exported |= exported_names(client)
    used: dict[str, set[str]] = {}
    for rule in alert_rules():
        used[f"alert {rule['alert']}"] = metric_names(str(rule["expr"]))
    for dashboard, expressions in dashboard_expressions().items():
        for expression in expressions:
            used.setdefault(f"dashboard {dashboard}", set()).update(metric_names(expression))

    missing = {where: names - exported - PROMETHEUS_OWN for where, names in used.items()}
    assert {where: names for where, names in missing.items() if names} == {}
    read = set().union(*used.values())
    # what the brief of each dashboard and alert names is watched
    assert {
        "interlocality_http_requests_total",
        "interlocality_http_request_seconds_bucket",
        "interlocality_consumer_lag",
        "interlocality_outbox_pending",
        "interlocality_outbox_oldest_pending_seconds",
        "interlocality_dead_letters_total",
        "interlocality_deliveries_total",
        "faststream_received_processed_messages_duration_seconds_bucket",
    } <= read


# -- one trace through Kafka ---------------------------------------------------------------


def test_a_request_and_the_consumers_of_its_event_are_one_trace(
    region: dict[str, tuple[TestClient, InMemorySpanExporter]],
) -> None:
    profiles = signed_in(TestClient(region["profiles"][0].app))
    created = profiles.post(
        "/v1/students",
        json={
            "name": "Sigrún Jónsdóttir",
            "email": "sigrun.jonsdottir@students.example.org",
            "skills": [{"uri": PYTHON, "level": 4}],
            "languages": [{"code": "en", "level": "C1"}],
            "engagement_kinds": ["internship"],
            "consents": {"matching": True, "notifications": True, "analytics": True},
        },
    )
    assert created.status_code == 201, created.text
    [request] = [
        span
        for span in region["profiles"][1].get_finished_spans()
        if span.kind == SpanKind.SERVER and span.name == "POST /v1/students"
    ]
    trace_id = request.context.trace_id
    topic = STUDENTS.name(REGION)

    def applied_in(service: str) -> list[ReadableSpan]:
        return [
            span
            for span in region[service][1].get_finished_spans()
            if span.name == f"{topic} apply" and span.context.trace_id == trace_id
        ]

    for service in ("matching", "analytics"):
        [applied] = asyncio.run(eventually(lambda s=service: applied_in(s)))
        assert applied.kind == SpanKind.CONSUMER
        assert applied.attributes is not None
        assert applied.attributes["messaging.destination.name"] == topic
        # its parents lead back to the request: the relay's publish, then the request
        chain = ancestry(applied, spans_of(region))
        assert [span.name for span in chain][:2] == [f"{topic} apply", "outbox publish"]
        assert chain[-1] is request, [span.name for span in chain]
        # the broker's span of the batch, in a trace of its own, is linked
        assert applied.links and applied.links[0].context.trace_id != trace_id

    # the consumer took the one record there was: nothing left behind it
    lag = {
        (sample.labels["topic"], sample.labels["partition"]): sample.value
        for family in text_string_to_metric_families(
            signed_in(TestClient(region["matching"][0].app), "service").get("/metrics").text
        )
        if family.name == "interlocality_consumer_lag"
        for sample in family.samples
    }
    assert lag and {t for t, _ in lag} == {topic} and set(lag.values()) == {0.0}


def spans_of(region: dict[str, tuple[TestClient, InMemorySpanExporter]]) -> list[ReadableSpan]:
    return [span for _, exporter in region.values() for span in exporter.get_finished_spans()]


def ancestry(span: ReadableSpan, spans: list[ReadableSpan]) -> list[ReadableSpan]:
    """``span`` and its parents, as far as they were recorded."""
    by_id = {s.context.span_id: s for s in spans}
    chain = [span]
    while chain[-1].parent is not None and chain[-1].parent.span_id in by_id:
        chain.append(by_id[chain[-1].parent.span_id])
    return chain


# -- the compose file ----------------------------------------------------------------------


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return document


def test_the_compose_file_runs_pinned_images_with_the_files_it_mounts() -> None:
    """Checked without Docker, so it runs everywhere; with Docker Compose the next test
    has it validate the file too."""
    services = compose()["services"]
    assert {"kafka", "postgres", "otel-collector", "prometheus", "grafana", "jaeger"} <= set(
        services
    )
    for name, service in services.items():
        image, _, tag = service["image"].rpartition(":")
        assert image and tag and tag != "latest", f"{name}: pin the image's tag"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (INFRA / source).exists(), f"{name} mounts {source}, which is missing"
    assert "host.docker.internal:host-gateway" in services["prometheus"]["extra_hosts"]
    assert "4318:4318" in services["otel-collector"]["ports"]
    # where Docker Compose is installed it validates the file as well
    docker = shutil.which("docker")
    if (
        docker
        and not subprocess.run([docker, "compose", "version"], capture_output=True).returncode
    ):
        checked = subprocess.run(
            [docker, "compose", "-f", str(COMPOSE), "config", "--quiet"],
            capture_output=True,
            text=True,
        )
        assert checked.returncode == 0, checked.stderr


# -- Prometheus ----------------------------------------------------------------------------


def test_prometheus_scrapes_the_five_services_on_the_host_as_the_service_role() -> None:
    config = yaml.safe_load(PROMETHEUS.read_text())
    scraped = {
        job["job_name"]: [t for c in job["static_configs"] for t in c["targets"]]
        for job in config["scrape_configs"]
    }
    assert scraped == {
        service: [f"host.docker.internal:{SERVICE_PORTS[service]}"] for service in SERVICES
    }
    for job in config["scrape_configs"]:
        assert job["authorization"]["credentials_file"] == "/etc/prometheus/service.token"
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]


def test_every_alert_has_a_name_an_expression_a_severity_and_a_summary() -> None:
    rules = alert_rules()
    assert {rule["alert"] for rule in rules} >= {
        "ConsumerLagHigh", "DeadLettersArriving", "OutboxStuck", "DeliveriesFailing",
    }  # fmt: skip
    for rule in rules:
        assert rule["expr"] and metric_names(str(rule["expr"])), rule["alert"]
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert re.fullmatch(r"\d+[smh]", rule.get("for", "0s")), rule["alert"]


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is missing: `make promtool` installs it")
        pytest.skip("no promtool here (`make promtool`): the rules' structure is checked above")
    return found


def test_promtool_accepts_the_alert_rules_and_the_configuration(tmp_path: Path) -> None:
    tool = promtool()
    rules = subprocess.run([tool, "check", "rules", str(ALERTS)], capture_output=True, text=True)
    assert rules.returncode == 0, rules.stdout + rules.stderr
    # the configuration as the container sees it: its files under /etc/prometheus
    shutil.copytree(INFRA / "prometheus", tmp_path / "prometheus")
    (tmp_path / "prometheus" / "service.token").write_text("a token\n")
    config = tmp_path / "prometheus" / "prometheus.yml"
    config.write_text(
        PROMETHEUS.read_text().replace("/etc/prometheus/", f"{tmp_path / 'prometheus'}/")
    )
    checked = subprocess.run([tool, "check", "config", str(config)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr


# -- Grafana -------------------------------------------------------------------------------


def test_grafana_is_provisioned_with_prometheus_and_the_dashboards() -> None:
    provisioning = INFRA / "grafana" / "provisioning"
    datasources = yaml.safe_load((provisioning / "datasources" / "prometheus.yaml").read_text())
    [prometheus] = [d for d in datasources["datasources"] if d["type"] == "prometheus"]
    assert prometheus["url"] == "http://prometheus:9090"
    providers = yaml.safe_load((provisioning / "dashboards" / "interlocality.yaml").read_text())
    assert providers["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    assert [path.name for path in DASHBOARDS] == ["events.json", "http.json"]
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        assert dashboard["uid"] and dashboard["title"]
        for panel in dashboard["panels"]:
            assert panel["datasource"]["uid"] == prometheus["uid"], panel["title"]
            assert panel["targets"], panel["title"]
