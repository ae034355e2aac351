"""Every k8s overlay renders to complete manifests that validate against the Kubernetes and
Strimzi schemas (offline), and the generated files are current."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from interlocality.contracts.topics import FEDERATION_TOPICS, SNAPSHOTS, STUDENTS, TOPICS
from interlocality.operator.manifests import SERVICE_SIZES, region_overlays
from interlocality.operator.manifests import main as manifests
from interlocality.operator.services import SERVICE_PORTS

ROOT = Path(__file__).resolve().parents[1]
OVERLAYS = region_overlays(ROOT)
DEMO = ROOT / "deploy/k8s/overlays/demo"
# The oldest Kubernetes release the manifests are held to (its schemas ship in the
# kubernetes-validate package: no network at test time).
KUBERNETES_VERSION = "1.30"
STRIMZI_SCHEMAS = json.loads((ROOT / "tests/schemas/strimzi-v1beta2.json").read_text())
# The database URLs each region creates as secrets (deploy/README.md): only the demo
# overlay generates them, from a demo password.
DATABASE_SECRETS = {f"{service}-database" for service in SERVICE_PORTS}


def render(overlay: Path) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl (with its built-in kustomize) is needed to render the overlays"
    result = subprocess.run(
        [kubectl, "kustomize", str(overlay)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def test_generated_manifests_and_topics_table_are_current() -> None:
    assert manifests(["check", "--root", str(ROOT)]) == 0, "run `make manifests`"


@pytest.mark.parametrize("overlay", OVERLAYS, ids=[o.name for o in OVERLAYS])
def test_overlay_renders_complete_hardened_services(overlay: Path) -> None:
    documents = render(overlay)
    for document in documents:
        assert document["apiVersion"] and document["kind"] and document["metadata"]["name"]

    deployments = {d["metadata"]["name"]: d for d in documents if d["kind"] == "Deployment"}
    services = {d["metadata"]["name"]: d for d in documents if d["kind"] == "Service"}
    assert set(deployments) == set(SERVICE_PORTS) == set(services)
    config_maps = {d["metadata"]["name"] for d in documents if d["kind"] == "ConfigMap"}
    # The services refuse to start without the issuer of the tokens they accept: the
    # region's own provider, from its configuration; keys are fetched from it, never kept.
    [config] = [d["data"] for d in documents if d["kind"] == "ConfigMap"]
    assert config["INTERLOCALITY_OIDC_ISSUER"].startswith("https://"), config
    assert config["INTERLOCALITY_REGION"] == overlay.name
    assert not any("TOKEN" in key or "SECRET" in key for key in config), config
    secrets = {d["metadata"]["name"] for d in documents if d["kind"] == "Secret"}

    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        [container] = pod["containers"]
        assert container["args"] == [f"interlocality.{name}"]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["resources"]["limits"]["memory"]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports == {"http": SERVICE_PORTS[name]}
        [service_port] = services[name]["spec"]["ports"]
        assert service_port["targetPort"] in ports
        # Generated names carry a content hash; references must have been rewritten to it.
        [env_from] = container["envFrom"]
        assert env_from["configMapRef"]["name"] in config_maps
        database = next(e for e in container["env"] if e["name"] == "DATABASE_URL")
        if overlay == DEMO:
            assert database["valueFrom"]["secretKeyRef"]["name"] in secrets
        else:
            # a real region's URL (and its password) is a secret it creates, by reference
            assert database["valueFrom"]["secretKeyRef"] == {
                "name": f"{name}-database",
                "key": "url",
            }
    if overlay != DEMO:
        assert not secrets, f"{overlay.name} keeps secrets in the repository: {secrets}"


@pytest.mark.parametrize("overlay", OVERLAYS, ids=[o.name for o in OVERLAYS])
def test_notifications_has_its_mail_relay_public_address_and_shared_signing_key(
    overlay: Path,
) -> None:
    documents = render(overlay)
    [config] = [d["data"] for d in documents if d["kind"] == "ConfigMap"]
    for name in ("INTERLOCALITY_PUBLIC_URL", "INTERLOCALITY_SMTP_HOST", "INTERLOCALITY_SMTP_PORT"):
        assert config.get(name), f"{overlay.name} sets no {name}"
    assert config["INTERLOCALITY_PUBLIC_URL"].startswith("https://")
    deployments = {d["metadata"]["name"]: d for d in documents if d["kind"] == "Deployment"}
    for deployment in deployments.values():
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e for e in container["env"]}
        # nothing is written but under the /tmp emptyDir
        assert env["INTERLOCALITY_VAR_DIR"]["value"].startswith("/tmp/")
        assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    [notifications] = deployments["notifications"]["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in notifications["env"]}
    # one key for every replica, from a secret the region creates: required, never a value
    key = env["INTERLOCALITY_SIGNING_KEY"]["valueFrom"]["secretKeyRef"]
    assert key == {"name": "notifications-signing-key", "key": "key"}
    password = env["INTERLOCALITY_SMTP_PASSWORD"]["valueFrom"]["secretKeyRef"]
    assert password["optional"] is True
    secret = [n for n in env if ("KEY" in n or "PASSWORD" in n) and not n.endswith("_FILE")]
    assert secret and not any("value" in env[n] for n in secret), secret


def _acls(user: dict[str, Any]) -> dict[tuple[str, str], set[str]]:
    return {
        (acl["resource"]["type"], acl["resource"]["name"]): set(acl["operations"])
        for acl in user["spec"]["authorization"]["acls"]
    }


@pytest.mark.parametrize("overlay", OVERLAYS, ids=[o.name for o in OVERLAYS])
def test_every_service_signs_in_as_its_own_kafka_user(overlay: Path) -> None:
    documents = render(overlay)
    [config] = [d for d in documents if d["kind"] == "ConfigMap"]
    settings = config["data"]
    users = {d["metadata"]["name"]: d for d in documents if d["kind"] == "KafkaUser"}
    assert len(users) == len(SERVICE_PORTS)
    if settings.get("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT").startswith("SASL_"):
        mechanism = settings["KAFKA_SASL_MECHANISM"]
        assert {u["spec"]["authentication"]["type"] for u in users.values()} == {mechanism.lower()}
    for deployment in (d for d in documents if d["kind"] == "Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        [container] = pod["containers"]
        env = {e["name"]: e for e in container["env"]}
        # no password in the manifests: only the file Strimzi's secret is mounted as
        assert not any(
            "PASSWORD" in name and "value" in e and not name.endswith("_FILE")
            for name, e in env.items()
        )
        username = env["KAFKA_SASL_USERNAME"]["value"]
        assert (
            users[username]["metadata"]["labels"]["interlocality.eu/service"]
            == (deployment["metadata"]["name"])
        )
        volumes = {v["name"]: v for v in pod["volumes"]}
        mounted = {m["mountPath"]: volumes[m["name"]] for m in container["volumeMounts"]}
        password = Path(env["KAFKA_SASL_PASSWORD_FILE"]["value"])
        secret = mounted[str(password.parent)]["secret"]
        assert secret["secretName"] == username
        assert {"key": "password", "path": password.name} in secret["items"]
        if "KAFKA_SSL_CAFILE" in settings:
            cafile = Path(settings["KAFKA_SSL_CAFILE"])
            ca = mounted[str(cafile.parent)]["secret"]
            assert ca["secretName"].endswith("-cluster-ca-cert")
            assert {"key": "ca.crt", "path": cafile.name} in ca["items"]


@pytest.mark.parametrize("overlay", OVERLAYS, ids=[o.name for o in OVERLAYS])
def test_kafka_users_may_write_only_their_topics_and_read_only_what_they_consume(
    overlay: Path,
) -> None:
    region = overlay.name
    users = {
        d["metadata"]["labels"]["interlocality.eu/service"]: _acls(d)
        for d in render(overlay)
        if d["kind"] == "KafkaUser"
    }
    assert set(users) == set(SERVICE_PORTS)
    owner = {spec.name(region): spec.service for spec in (*TOPICS, *FEDERATION_TOPICS)}
    dead_letters = {spec.dlq_name(region) for spec in (*TOPICS, *FEDERATION_TOPICS)}
    for service, acls in users.items():
        assert all(kind in {"topic", "group"} for kind, _ in acls)
        written = {name for (kind, name), ops in acls.items() if kind == "topic" and "Write" in ops}
        read = {name for (kind, name), ops in acls.items() if kind == "topic" and "Read" in ops}
        groups = {name for (kind, name), ops in acls.items() if kind == "group"}
        # its own topics and dead letters only
        assert {owner[t] for t in written - dead_letters} == {service}
        assert all(acls[("topic", t)] <= {"Write", "Describe"} for t in dead_letters & written)
        # what it reads is another's (or the shared snapshots), never a dead-letter topic
        assert read and not read & dead_letters
        assert all(owner[t] != service or t.startswith("federation.") for t in read)
        # and it may dead-letter what it reads
        for topic in read:
            spec = next(s for s in (*TOPICS, *FEDERATION_TOPICS) if s.name(region) == topic)
            assert spec.dlq_name(region) in written
        assert all(ops == {"Read"} for (kind, _), ops in acls.items() if kind == "group")
        assert f"{region}.{service}" in groups
        assert groups <= {f"{region}.{service}", f"{region}.{service}.federation"}
    # what the services' handlers consume, as they subscribe
    students = STUDENTS.name(region)
    assert {
        s
        for s, acls in users.items()
        if ("topic", students) in acls and "Read" in acls[("topic", students)]
    } == {
        "vacancies",
        "matching",
        "notifications",
        "analytics",
    }
    snapshots = SNAPSHOTS.name(region)
    assert users["analytics"][("topic", snapshots)] == {"Read", "Write", "Describe"}
    assert ("group", f"{region}.analytics.federation") in users["analytics"]
    # every topic someone reads, someone writes
    everything_read = {
        t
        for acls in users.values()
        for (k, t), ops in acls.items()
        if "Read" in ops and k == "topic"
    }
    everything_written = {
        t for acls in users.values() for (k, t), ops in acls.items() if "Write" in ops
    }
    assert everything_read <= everything_written


@pytest.mark.parametrize("overlay", OVERLAYS, ids=[o.name for o in OVERLAYS])
def test_overlay_declares_every_topic_of_its_region(overlay: Path) -> None:
    topics = {
        d["spec"]["topicName"]: d["spec"] for d in render(overlay) if d["kind"] == "KafkaTopic"
    }
    # the region's topics and dead letters, the federated topics and the region's dead letters
    assert len(topics) == 2 * len(TOPICS) + 2 * len(FEDERATION_TOPICS)
    for spec in (*TOPICS, *FEDERATION_TOPICS):
        topic = topics[spec.name(overlay.name)]
        assert topic["partitions"] == spec.partitions
        assert topic["config"]["cleanup.policy"] == ("compact" if spec.compacted else "delete")
        assert topics[spec.dlq_name(overlay.name)]["config"]["cleanup.policy"] == "delete"


def with_federation_mirror(overlay: Path, directory: Path) -> Path:
    """A region's overlay with the optional MirrorMaker 2 component added, as an operator
    would."""
    (directory / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": [os.path.relpath(overlay, directory)],
                "components": [
                    os.path.relpath(ROOT / "deploy/k8s/components/federation-mirror", directory)
                ],
            }
        )
    )
    return directory


def test_mirror_maker_component_copies_only_the_snapshots_into_the_region(
    tmp_path: Path,
) -> None:
    demo = DEMO
    documents = render(with_federation_mirror(demo, tmp_path))
    [mirror] = [d for d in documents if d["kind"] == "KafkaMirrorMaker2"]
    spec = mirror["spec"]
    aliases = {cluster["alias"] for cluster in spec["clusters"]}
    assert spec["connectCluster"] in aliases
    [flow] = spec["mirrors"]
    assert flow["targetCluster"] == spec["connectCluster"] != flow["sourceCluster"]
    assert {flow["sourceCluster"], flow["targetCluster"]} == aliases
    # exactly the federated topic, never a region's own, and no consumer groups
    [snapshots] = FEDERATION_TOPICS
    pattern = re.compile(flow["topicsPattern"])
    assert pattern.fullmatch(snapshots.name(""))
    for spec_ in TOPICS:
        assert not pattern.fullmatch(spec_.name(demo.name))
    assert not pattern.fullmatch(f"{flow['sourceCluster']}.{snapshots.name('')}")
    assert re.fullmatch(snapshots.mirrored_pattern(), f"partner.{snapshots.name('')}")
    assert flow["groupsPattern"] == "^$"
    policy = flow["sourceConnector"]["config"]["replication.policy.class"]
    assert policy.endswith(".DefaultReplicationPolicy")
    # analytics may read the copy of the partner's snapshots, and nothing more of it
    [analytics] = [
        d
        for d in documents
        if d["kind"] == "KafkaUser"
        and d["metadata"]["labels"]["interlocality.eu/service"] == "analytics"
    ]
    copy = f"{flow['sourceCluster']}.{snapshots.name('')}"
    assert _acls(analytics)[("topic", copy)] == {"Read", "Describe"}


def schema_problems(document: dict[str, Any]) -> list[str]:
    """What the schema of ``document``'s kind finds wrong with it: Kubernetes' own (strict:
    an unknown field is an error) or Strimzi's, as tests/schemas/strimzi-v1beta2.json has
    it from Strimzi's API reference."""
    name = f"{document['kind']}/{document['metadata']['name']}"
    if document["apiVersion"].startswith("kafka.strimzi.io/"):
        schema = {**STRIMZI_SCHEMAS, "$ref": f"#/$defs/{document['kind']}"}
        validator = jsonschema.Draft202012Validator(schema)
        return [
            f"{name}: {'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(document)
        ]
    try:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        return [f"{name}: {'/'.join(map(str, error.path))}: {error.message}"]
    return []


@pytest.mark.parametrize("overlay", OVERLAYS, ids=[o.name for o in OVERLAYS])
def test_overlay_validates_against_the_kubernetes_and_strimzi_schemas(
    overlay: Path, tmp_path: Path
) -> None:
    documents = render(with_federation_mirror(overlay, tmp_path))
    assert {d["kind"] for d in documents} >= {
        "Deployment",
        "Job",
        "NetworkPolicy",
        "KafkaTopic",
        "KafkaUser",
        "KafkaMirrorMaker2",
    }
    problems = [problem for document in documents for problem in schema_problems(document)]
    assert not problems, "\n".join(problems)


def test_the_schemas_refuse_what_a_cluster_would_refuse_or_silently_drop() -> None:
    [deployment] = [d for d in render(DEMO) if d["kind"] == "Deployment"][:1]
    deployment["spec"]["replica"] = 2  # misspelt: the API server refuses it
    assert schema_problems(deployment)
    [topic, user] = [
        next(d for d in render(DEMO) if d["kind"] == kind) for kind in ("KafkaTopic", "KafkaUser")
    ]
    topic["spec"]["partitions"] = "3"
    assert schema_problems(topic)
    user["spec"]["authorization"]["acls"][0]["operations"] = ["Publish"]
    assert schema_problems(user)


def test_a_new_region_from_the_template_renders_and_validates(tmp_path: Path) -> None:
    # the repository's deploy tree and README, as an operator's checkout
    shutil.copytree(ROOT / "deploy", tmp_path / "deploy")
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    overlays = tmp_path / "deploy/k8s/overlays"
    region = overlays / "tampere"
    shutil.copytree(overlays / "_template", region)
    for file in region.glob("*.yaml"):
        text = file.read_text().replace("__REGION_TITLE__", "Tampere")
        file.write_text(text.replace("__REGION__", "tampere").replace("__RULES__", "fi"))
    assert manifests(["write", "--root", str(tmp_path)]) == 0
    documents = render(region)
    [config] = [d["data"] for d in documents if d["kind"] == "ConfigMap"]
    assert config["INTERLOCALITY_REGION"] == "tampere"
    assert config["INTERLOCALITY_WORK_RULES"] == "fi"
    assert not any(word in value for value in config.values() for word in ("REGION", "RULES")), (
        config
    )
    assert {t["spec"]["topicName"] for t in documents if t["kind"] == "KafkaTopic"} >= {
        spec.name("tampere") for spec in TOPICS
    }
    assert not [d for d in documents if d["kind"] == "Secret"]
    problems = [problem for document in documents for problem in schema_problems(document)]
    assert not problems, "\n".join(problems)


def test_real_regions_run_their_own_rules_and_reference_secrets_they_create() -> None:
    rules = {"aarhus": "dk", "leipzig": "de", "limburg": "be-vlg"}
    readme = (ROOT / "deploy/README.md").read_text()
    for region, country in rules.items():
        documents = render(ROOT / "deploy/k8s/overlays" / region)
        [config] = [d["data"] for d in documents if d["kind"] == "ConfigMap"]
        assert config["INTERLOCALITY_WORK_RULES"] == country
        assert (
            ROOT / "libs/common/src/interlocality/common/data/work_rules" / f"{country}.toml"
        ).exists()
        [namespace] = [d for d in documents if d["kind"] == "Namespace"]
        assert namespace["metadata"]["name"] == f"interlocality-{region}"
        assert {d["metadata"].get("namespace") for d in documents if d["kind"] != "Namespace"} == {
            f"interlocality-{region}"
        }
    # every secret a Deployment references is one the region is told how to create
    referenced = {
        ref["name"]
        for d in render(ROOT / "deploy/k8s/overlays/aarhus")
        if d["kind"] == "Deployment"
        for e in d["spec"]["template"]["spec"]["containers"][0]["env"]
        if (ref := e.get("valueFrom", {}).get("secretKeyRef"))
    }
    assert referenced >= DATABASE_SECRETS
    for secret in referenced:
        assert f"kubectl create secret generic {secret} " in readme, secret


def _by_kind(documents: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in documents if d["kind"] == kind}


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def test_every_service_runs_under_its_own_account_without_an_api_token() -> None:
    documents = render(DEMO)
    accounts = _by_kind(documents, "ServiceAccount")
    assert set(accounts) == set(SERVICE_PORTS)
    assert all(a["automountServiceAccountToken"] is False for a in accounts.values())
    for kind in ("Deployment", "Job"):
        for workload in _by_kind(documents, kind).values():
            pod = workload["spec"]["template"]["spec"]
            assert pod["serviceAccountName"] in accounts
            assert pod["automountServiceAccountToken"] is False


def test_budgets_let_a_drain_proceed_and_only_safe_services_scale() -> None:
    documents = render(DEMO)
    deployments = _by_kind(documents, "Deployment")
    budgets = _by_kind(documents, "PodDisruptionBudget")
    autoscalers = _by_kind(documents, "HorizontalPodAutoscaler")
    for name, deployment in deployments.items():
        budget = budgets[name]["spec"]
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert _selects(budget["selector"], pod_labels)
        # never minAvailable: of one replica it would refuse every eviction
        assert budget == {**budget, "maxUnavailable": 1} and "minAvailable" not in budget
    # notifications' digest round, analytics' scheduled snapshot and vacancies' expiry are
    # not claimed across replicas: one each
    for single in ("notifications", "analytics", "vacancies"):
        assert deployments[single]["spec"]["replicas"] == 1
        assert single not in autoscalers
    # matching keeps its index in memory: one replica active, one standing by, never more
    assert deployments["matching"]["spec"]["replicas"] == 2
    assert "matching" not in autoscalers
    for name, autoscaler in autoscalers.items():
        spec = autoscaler["spec"]
        assert spec["scaleTargetRef"]["name"] == name
        assert spec["minReplicas"] == deployments[name]["spec"]["replicas"] >= 2
        assert spec["maxReplicas"] <= 4


def test_resources_hold_what_the_benchmarks_measured() -> None:
    def mebibytes(quantity: str) -> float:
        units = {"Mi": 1, "Gi": 1024}
        return float(quantity[:-2]) * units[quantity[-2:]]

    deployments = _by_kind(render(DEMO), "Deployment")
    for name, deployment in deployments.items():
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        resources = container["resources"]
        size = SERVICE_SIZES[name]
        assert resources["requests"]["memory"] == size.memory_request
        assert mebibytes(resources["requests"]["memory"]) <= mebibytes(
            resources["limits"]["memory"]
        )
        # every service holds the ESCO vocabulary: about 180 MiB resident once built
        assert mebibytes(resources["requests"]["memory"]) >= 256
    matching = deployments["matching"]["spec"]["template"]["spec"]["containers"][0]
    # the index's rebuild of 100,000 students x 5,000 vacancies peaks at 0.49 GiB
    assert mebibytes(matching["resources"]["requests"]["memory"]) >= 0.49 * 1024 * 1.25


def test_migration_jobs_run_each_service_once_apart_from_its_replicas() -> None:
    documents = render(DEMO)
    deployments = _by_kind(documents, "Deployment")
    services = _by_kind(documents, "Service")
    jobs = _by_kind(documents, "Job")
    assert set(jobs) == {f"{name}-migrate" for name in SERVICE_PORTS}
    for name, deployment in deployments.items():
        job = jobs[f"{name}-migrate"]
        pod = job["spec"]["template"]["spec"]
        [container] = pod["containers"]
        [server] = deployment["spec"]["template"]["spec"]["containers"]
        assert container["args"] == [f"interlocality.{name}", "migrate"]
        assert container["image"] == server["image"]
        # the same configuration and secrets: it reads the settings the service reads
        assert container["env"] == server["env"] and container["envFrom"] == server["envFrom"]
        assert container["securityContext"] == server["securityContext"]
        assert pod["restartPolicy"] == "Never"
        # not one of the service's replicas: no traffic, no disruption budget counts it
        labels = job["spec"]["template"]["metadata"]["labels"]
        assert not _selects({"matchLabels": services[name]["spec"]["selector"]}, labels)
        assert not _selects(deployment["spec"]["selector"], labels)


def _allowed_egress(policies: list[dict[str, Any]], labels: dict[str, str]) -> set[Any]:
    """The (namespace or "anywhere", protocol, port) a pod with ``labels`` may reach."""
    allowed = set()
    for policy in policies:
        spec = policy["spec"]
        if "Egress" not in spec["policyTypes"] or not _selects(spec["podSelector"], labels):
            continue
        for rule in spec.get("egress", []):
            targets = [
                peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                for peer in rule.get("to", [])
            ] or ["anywhere"]
            for target in targets:
                for port in rule["ports"]:
                    allowed.add((target, port["protocol"], port["port"]))
    return allowed


def test_network_policies_deny_everything_but_the_paths_the_services_use() -> None:
    documents = render(DEMO)
    policies = [d for d in documents if d["kind"] == "NetworkPolicy"]
    deny = next(p for p in policies if p["metadata"]["name"] == "default-deny")["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    common = {
        ("kube-system", "UDP", 53),
        ("kube-system", "TCP", 53),
        ("anywhere", "TCP", 5432),
        ("kafka", "TCP", 9092),
        ("kafka", "TCP", 9093),
        ("anywhere", "TCP", 443),
        ("observability", "TCP", 4318),
    }
    delivery = {("anywhere", "TCP", port) for port in (25, 465, 587, 80, 443)}
    for kind in ("Deployment", "Job"):
        for workload in _by_kind(documents, kind).values():
            labels = workload["spec"]["template"]["metadata"]["labels"]
            expected = common | (
                delivery if labels["app.kubernetes.io/name"] == "notifications" else set()
            )
            assert _allowed_egress(policies, labels) == expected, workload["metadata"]["name"]
    # in: only each service's own port, from the ingress controller and Prometheus
    for deployment in _by_kind(documents, "Deployment").values():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        rules = [
            rule
            for p in policies
            if "Ingress" in p["spec"]["policyTypes"] and _selects(p["spec"]["podSelector"], labels)
            for rule in p["spec"].get("ingress", [])
        ]
        sources = {
            peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
            for rule in rules
            for peer in rule["from"]
        }
        assert sources == {"ingress-nginx", "monitoring"}
        assert all(rule["ports"] == [{"protocol": "TCP", "port": "http"}] for rule in rules)


REALM = ROOT / "deploy/keycloak/interlocality-realm.json"
# What the services read from an access token: its audience and these claims.
AUDIENCE = "interlocality"
CLAIMS = {"roles", "region", "student_id", "company_id"}


def _mappers(client: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The client's protocol mappers that put a claim into the access token, by claim."""
    claims = {}
    for mapper in client.get("protocolMappers", []):
        config = mapper["config"]
        if config.get("access.token.claim") != "true":
            continue
        if mapper["protocolMapper"] == "oidc-audience-mapper":
            claims["aud"] = mapper
        else:
            claims[config["claim.name"]] = mapper
    return claims


def test_keycloak_realm_issues_the_claims_the_services_read() -> None:
    realm = json.loads(REALM.read_text())
    assert realm["realm"] == "interlocality"
    roles = {role["name"] for role in realm["roles"]["realm"]}
    assert roles == {"operator", "company", "student", "coordinator", "service"}
    clients = {client["clientId"]: client for client in realm["clients"]}
    assert set(clients) == {
        "interlocality-api",
        "interlocality-dashboard",
        "interlocality-services",
    }

    api = clients["interlocality-api"]
    assert _mappers(api)["aud"]["config"]["included.custom.audience"] == AUDIENCE
    assert not any(api[flow] for flow in ("standardFlowEnabled", "directAccessGrantsEnabled"))

    dashboard = clients["interlocality-dashboard"]
    assert dashboard["publicClient"] is True and "secret" not in dashboard
    assert dashboard["standardFlowEnabled"] is True
    assert dashboard["implicitFlowEnabled"] is False
    assert dashboard["directAccessGrantsEnabled"] is False
    assert dashboard["attributes"]["pkce.code.challenge.method"] == "S256"
    assert dashboard["redirectUris"]
    assert all(
        uri.startswith("https://") and uri.endswith("/auth/callback")
        for uri in dashboard["redirectUris"]
    )

    services = clients["interlocality-services"]
    assert services["publicClient"] is False and services["serviceAccountsEnabled"] is True
    assert services["standardFlowEnabled"] is False
    assert "secret" not in services  # generated by Keycloak on import, never in the repository
    [account] = [
        u for u in realm["users"] if u.get("serviceAccountClientId") == "interlocality-services"
    ]
    assert account["realmRoles"] == ["service"]

    # every client that obtains tokens puts the audience and the four claims in them
    for client in (dashboard, services):
        claims = _mappers(client)
        assert CLAIMS | {"aud"} <= set(claims), client["clientId"]
        assert claims["aud"]["config"]["included.custom.audience"] == AUDIENCE
        flat_roles = claims["roles"]
        assert flat_roles["protocolMapper"] == "oidc-usermodel-realm-role-mapper"
        assert flat_roles["config"]["multivalued"] == "true"
        assert flat_roles["config"].get("usermodel.realmRoleMapping.rolePrefix", "") == ""
        for attribute in CLAIMS - {"roles"}:
            mapper = claims[attribute]
            assert mapper["protocolMapper"] == "oidc-usermodel-attribute-mapper"
            assert mapper["config"]["user.attribute"] == attribute
            assert mapper["config"]["multivalued"] == "false"

    # the attributes behind the claims are declared, and only an administrator sets them
    [provider] = realm["components"]["org.keycloak.userprofile.UserProfileProvider"]
    [config] = provider["config"]["kc.user.profile.config"]
    declared = {a["name"]: a for a in json.loads(config)["attributes"]}
    for attribute in CLAIMS - {"roles"}:
        assert declared[attribute]["permissions"]["edit"] == ["admin"]


def test_the_image_pins_its_base_and_uv_and_installs_dependencies_before_the_source() -> None:
    lines = [
        line.strip()
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    base = next(line for line in lines if line.startswith("ARG PYTHON_IMAGE="))
    assert re.fullmatch(r"ARG PYTHON_IMAGE=python:3\.11\.\d+-slim-\w+", base), base
    assert any(re.fullmatch(r"FROM ghcr\.io/astral-sh/uv:\d+\.\d+\.\d+ AS uv", x) for x in lines)
    # the lock and the root project alone, then the dependencies, then the source
    lock = lines.index("COPY pyproject.toml uv.lock ./")
    dependencies = next(i for i, x in enumerate(lines) if "--no-install-workspace" in x)
    source = min(i for i, x in enumerate(lines) if x.startswith("COPY services"))
    assert lock < dependencies < source
    final = max(i for i, x in enumerate(lines) if x.startswith("FROM "))
    final_stage = lines[final:]
    assert "WORKDIR /app" in final_stage
    assert "USER 10001" in final_stage
    assert any("INTERLOCALITY_VAR_DIR=/tmp/" in x for x in final_stage)
