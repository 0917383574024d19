"""deploy/kubernetes/: every manifest validates against the Kubernetes API schema (strict,
offline, kubernetes-validate), the Deployment follows our rules, the Secret is only a template;
each check fails on a planted error."""

import pytest
import yaml

from .checks import (
    KUBERNETES_VERSION,
    REPO_ROOT,
    deployment_problems,
    kubernetes_errors,
    load_all_yaml,
    secret_template_problems,
)

MANIFESTS = sorted((REPO_ROOT / "deploy" / "kubernetes").glob("*.yaml"))


def _one(path, kind):
    return next(doc for doc in load_all_yaml(path) if doc["kind"] == kind)


def test_the_expected_manifests_exist():
    kinds = {doc["kind"] for path in MANIFESTS for doc in load_all_yaml(path)}
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "Secret", "ConfigMap"} <= kinds


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda path: path.name)
def test_manifest_validates_against_the_kubernetes_schema(path):
    for document in load_all_yaml(path):
        assert kubernetes_errors(document) == [], f"against Kubernetes {KUBERNETES_VERSION}"


def test_deployment_follows_our_rules():
    assert (
        deployment_problems(_one(REPO_ROOT / "deploy/kubernetes/deployment.yaml", "Deployment"))
        == []
    )


def test_secret_is_only_a_template():
    secret = _one(REPO_ROOT / "deploy/kubernetes/secret.template.yaml", "Secret")
    assert secret_template_problems(secret) == []


def test_the_hpa_scales_the_deployment_on_cpu():
    hpa = _one(REPO_ROOT / "deploy/kubernetes/hpa.yaml", "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"]["name"] == "wine-api"
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"


def test_schema_catches_a_misspelled_field(plant):
    broken = plant("deploy/kubernetes/deployment.yaml", "  replicas: 2", "  replica: 2")
    errors = kubernetes_errors(_one(broken, "Deployment"))
    assert len(errors) == 1 and "replica" in errors[0], errors


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
    text = broken.read_text().replace("wine-api:1.0.0", "wine-api:latest")
    text = text.replace("              memory: 512Mi\n", "")
    broken.write_text(text)
    assert deployment_problems(_one(broken, "Deployment")) == [
        "the pod does not require runAsNonRoot",
        "api: no memory in resources.limits",
        "api: image 'registry.example.com/wine-api:latest' has no fixed version tag",
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
