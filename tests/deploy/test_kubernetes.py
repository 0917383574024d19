"""deploy/kubernetes/: every manifest validates against the Kubernetes API schema (strict,
offline, kubernetes-validate), the Deployment follows our rules (no replica count under the HPA,
the model from an init container, images by digest, probes on their own port, no API token,
spread over nodes, the database URL from the Secret), a PodDisruptionBudget and a NetworkPolicy
exist and say what they should, the Secret is only a template; each check fails on a planted
error."""

import pytest
import yaml

from .checks import (
    KUBERNETES_VERSION,
    REPO_ROOT,
    deployment_problems,
    hadolint,
    kubernetes_errors,
    load_all_yaml,
    secret_template_problems,
)

MANIFESTS = sorted((REPO_ROOT / "deploy" / "kubernetes").glob("*.yaml"))


def _one(path, kind):
    return next(doc for doc in load_all_yaml(path) if doc["kind"] == kind)


def test_the_expected_manifests_exist():
    kinds = {doc["kind"] for path in MANIFESTS for doc in load_all_yaml(path)}
    assert {
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "Secret",
        "ConfigMap",
        "PodDisruptionBudget",
        "NetworkPolicy",
    } <= kinds
    assert "PersistentVolumeClaim" not in kinds  # no shared disk for the model


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda path: path.name)
def test_manifest_validates_against_the_kubernetes_schema(path):
    for document in load_all_yaml(path):
        assert kubernetes_errors(document) == [], f"against Kubernetes {KUBERNETES_VERSION}"


DEPLOYMENT = REPO_ROOT / "deploy/kubernetes/deployment.yaml"


def _hpa():
    return _one(REPO_ROOT / "deploy/kubernetes/hpa.yaml", "HorizontalPodAutoscaler")


def test_deployment_follows_our_rules():
    assert deployment_problems(_one(DEPLOYMENT, "Deployment"), _hpa()) == []


def test_secret_is_only_a_template():
    secret = _one(REPO_ROOT / "deploy/kubernetes/secret.template.yaml", "Secret")
    assert secret_template_problems(secret) == []


def test_the_hpa_scales_the_deployment_on_cpu():
    hpa = _one(REPO_ROOT / "deploy/kubernetes/hpa.yaml", "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"]["name"] == "wine-api"
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"


def test_schema_catches_a_misspelled_field(plant):
    broken = plant("deploy/kubernetes/deployment.yaml", "  strategy:", "  stratgy:")
    errors = kubernetes_errors(_one(broken, "Deployment"))
    assert len(errors) == 1 and "stratgy" in errors[0], errors


def test_schema_catches_a_wrong_type(plant):
    broken = plant(
        "deploy/kubernetes/deployment.yaml", "containerPort: 8000", 'containerPort: "8000"'
    )
    errors = kubernetes_errors(_one(broken, "Deployment"))
    assert len(errors) == 1 and "containerPort" in errors[0], errors


def test_schema_catches_an_unknown_api_version(plant):
    broken = plant("deploy/kubernetes/hpa.yaml", "autoscaling/v2", "autoscaling/v2beta3")
    assert kubernetes_errors(_one(broken, "HorizontalPodAutoscaler")) == [
        "no schema for kind 'HorizontalPodAutoscaler' in 'autoscaling/v2beta3'"
    ]


def test_a_deployment_without_probes_is_caught(tmp_path):
    # Valid for the schema (probes are optional), so only our rules can catch it.
    deployment = _one(REPO_ROOT / "deploy/kubernetes/deployment.yaml", "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    del container["readinessProbe"], container["livenessProbe"]
    broken = tmp_path / "deployment.yaml"
    broken.write_text(yaml.safe_dump(deployment))
    deployment = _one(broken, "Deployment")
    assert kubernetes_errors(deployment) == []
    assert deployment_problems(deployment) == ["api: no readinessProbe", "api: no livenessProbe"]


def test_a_secret_value_in_the_deployment_is_caught(plant):
    reference = (
        "              valueFrom:\n"
        "                secretKeyRef:\n"
        "                  name: wine-api-secrets\n"
        "                  key: SERVING_JWT_SECRET\n"
    )
    broken = plant(
        "deploy/kubernetes/deployment.yaml",
        reference,
        "              value: not-so-secret-after-all-0123456789\n",
    )
    deployment = _one(broken, "Deployment")
    assert kubernetes_errors(deployment) == []
    assert deployment_problems(deployment) == [
        "api: SERVING_JWT_SECRET is written out, not a secretKeyRef"
    ]


def test_root_latest_image_and_missing_limits_are_caught(plant):
    broken = plant("deploy/kubernetes/deployment.yaml", "runAsNonRoot: true", "runAsNonRoot: false")
    text = broken.read_text().replace("wine-api:1.0.0@sha256:" + "0" * 64, "wine-api:latest")
    text = text.replace("              memory: 512Mi\n", "")
    broken.write_text(text)
    assert deployment_problems(_one(broken, "Deployment")) == [
        "the pod does not require runAsNonRoot",
        "api: no memory in resources.limits",
        "api: image 'registry.example.com/wine-api:latest' is not pinned by digest",
    ]


def test_a_real_looking_secret_in_the_template_is_caught(plant):
    broken = plant(
        "deploy/kubernetes/secret.template.yaml",
        '"PLACEHOLDER-REPLACE-WITH-48-RANDOM-URL-SAFE-CHARACTERS"',
        '"9tq3Jx0wVbVr1H2pQeZs8kLmN4oPa6rStUv7wXyZ0aBcDeFg"',
    )
    assert secret_template_problems(_one(broken, "Secret")) == [
        "SERVING_JWT_SECRET holds a value that is not a PLACEHOLDER"
    ]


def test_no_replica_count_under_the_hpa(plant):
    assert "replicas" not in _one(DEPLOYMENT, "Deployment")["spec"]
    broken = plant(
        "deploy/kubernetes/deployment.yaml", "  selector:\n", "  replicas: 2\n  selector:\n"
    )
    assert deployment_problems(_one(broken, "Deployment"), _hpa()) == [
        "replicas is set, but an HPA manages the count"
    ]


def test_the_model_comes_from_an_init_container_by_digest(plant):
    pod = _one(DEPLOYMENT, "Deployment")["spec"]["template"]["spec"]
    (init,) = pod["initContainers"]
    assert init["command"][0] == "cp" and "wine-model" in init["image"]
    volume = next(v for v in pod["volumes"] if v["name"] == "model")
    assert "emptyDir" in volume  # pod-local: works on every cloud, no ReadOnlyMany disk
    broken = plant(
        "deploy/kubernetes/deployment.yaml",
        "wine-model:2026.12.1@sha256:" + "0" * 64,
        "wine-model:2026.12.1",
    )
    assert deployment_problems(_one(broken, "Deployment"), _hpa()) == [
        "model: image 'registry.example.com/wine-model:2026.12.1' not by digest"
    ]


def test_the_model_image_builds_from_the_model_folder_only():
    dockerfile = REPO_ROOT / "deploy/kubernetes/model-image.Dockerfile"
    result = hadolint(dockerfile)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "COPY models/wine-classifier/ /model/" in dockerfile.read_text()
    ignore = (REPO_ROOT / "deploy/kubernetes/model-image.Dockerfile.dockerignore").read_text()
    patterns = [line for line in ignore.splitlines() if line and not line.startswith("#")]
    assert patterns == ["*", "!models/wine-classifier/"]


def test_no_token_and_spread_over_nodes(plant):
    broken = plant(
        "deploy/kubernetes/deployment.yaml",
        "      automountServiceAccountToken: false\n",
        "",
    )
    text = broken.read_text().replace("kubernetes.io/hostname", "kubernetes.io/arch")
    broken.write_text(text)
    assert deployment_problems(_one(broken, "Deployment"), _hpa()) == [
        "the pod mounts a service account token",
        "no topology spread over nodes",
    ]


def test_probes_ask_their_own_port_where_gunicorn_listens(plant):
    container = _one(DEPLOYMENT, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["port"] == "probe"
    assert "0.0.0.0:8081" in container["args"]
    text = plant(
        "deploy/kubernetes/deployment.yaml", "            - 0.0.0.0:8081\n", ""
    ).read_text()
    assert deployment_problems(yaml.safe_load(text), _hpa()) == [
        f"api: the {probe} asks port probe, where gunicorn is not bound"
        for probe in ("readinessProbe", "livenessProbe", "startupProbe")
    ]
    text = text.replace("port: probe", "port: http")
    assert deployment_problems(yaml.safe_load(text), _hpa()) == [
        f"api: the {probe} queues behind predictions on the service port"
        for probe in ("readinessProbe", "livenessProbe", "startupProbe")
    ]


@pytest.mark.parametrize("url", ["SERVING_DATABASE_URL", "SERVING_RATE_LIMIT_URL"])
def test_the_database_and_redis_urls_come_from_the_secret(plant, url):
    secret = _one(REPO_ROOT / "deploy/kubernetes/secret.template.yaml", "Secret")
    assert url in secret["stringData"]
    configmap = _one(REPO_ROOT / "deploy/kubernetes/configmap.yaml", "ConfigMap")
    assert url not in configmap["data"]
    broken = plant(
        "deploy/kubernetes/deployment.yaml",
        f"            - name: {url}\n",
        f"            - name: {url}_ELSEWHERE\n",
    )
    assert deployment_problems(_one(broken, "Deployment"), _hpa()) == [
        f"api: {url} (it holds a password) not from a Secret"
    ]


def test_the_disruption_budget_lets_one_pod_go_at_a_time():
    budget = _one(REPO_ROOT / "deploy/kubernetes/poddisruptionbudget.yaml", "PodDisruptionBudget")
    assert budget["spec"]["maxUnavailable"] == 1
    assert budget["spec"]["selector"] == _one(DEPLOYMENT, "Deployment")["spec"]["selector"]
    assert _hpa()["spec"]["minReplicas"] >= 2  # so one pod always answers during a drain


def test_the_network_policy_admits_the_service_port_and_the_shared_state_only():
    policy = _one(REPO_ROOT / "deploy/kubernetes/networkpolicy.yaml", "NetworkPolicy")
    spec = policy["spec"]
    assert spec["podSelector"] == _one(DEPLOYMENT, "Deployment")["spec"]["selector"]
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    ingress_ports = {port["port"] for rule in spec["ingress"] for port in rule["ports"]}
    egress_ports = {port["port"] for rule in spec["egress"] for port in rule["ports"]}
    assert ingress_ports == {8000, 8001}  # requests, and Prometheus on the metrics port
    assert egress_ports == {53, 5432, 6379}
