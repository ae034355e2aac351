"""Every k8s overlay renders to complete manifests, and the generated files are current."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from interlocality.contracts.topics import FEDERATION_TOPICS, SNAPSHOTS, STUDENTS, TOPICS
from interlocality.operator.manifests import main as manifests
from interlocality.operator.services import SERVICE_PORTS

ROOT = Path(__file__).resolve().parents[1]
OVERLAYS = sorted(p for p in (ROOT / "deploy/k8s/overlays").iterdir() if p.is_dir())


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
        assert database["valueFrom"]["secretKeyRef"]["name"] in secrets


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


def test_mirror_maker_component_copies_only_the_snapshots_into_the_region(
    tmp_path: Path,
) -> None:
    # A region's overlay with the optional MirrorMaker 2 component added, as an operator would.
    demo = OVERLAYS[0]
    (tmp_path / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": [os.path.relpath(demo, tmp_path)],
                "components": [
                    os.path.relpath(ROOT / "deploy/k8s/components/federation-mirror", tmp_path)
                ],
            }
        )
    )
    documents = render(tmp_path)
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
