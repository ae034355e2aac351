"""Every k8s overlay renders to complete manifests, and the generated files are current."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from interlocality.contracts.topics import FEDERATION_TOPICS, TOPICS
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
