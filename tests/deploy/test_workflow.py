""".github/workflows/ci.yml: it parses as GitHub reads it (YAML 1.2), follows the workflow schema
(shipped offline by check-jsonschema) and our rules; each check fails on a planted error."""

import re

import yaml

from .checks import REPO_ROOT, bundled_schema, load_yaml, schema_errors, workflow_problems

WORKFLOW = REPO_ROOT / ".github" / "workflows" / "ci.yml"
DEPENDABOT = REPO_ROOT / ".github" / "dependabot.yml"


WORKFLOW_SCHEMA = bundled_schema("vendor/github-workflows.json")


def test_workflow_follows_the_github_schema():
    assert schema_errors(load_yaml(WORKFLOW), WORKFLOW_SCHEMA) == []


def test_workflow_follows_our_rules():
    assert workflow_problems(load_yaml(WORKFLOW)) == []


def test_a_yaml_1_1_reader_turns_on_into_true():
    # Why checks.load_yaml exists: PyYAML's safe_load reads the key `on` as the boolean True.
    plain = yaml.safe_load(WORKFLOW.read_text())
    assert True in plain and "on" not in plain
    assert workflow_problems(plain)[0].startswith("no 'on:' trigger")


def test_schema_catches_a_misspelled_key(plant):
    broken = plant(
        ".github/workflows/ci.yml",
        "  lint:\n    runs-on: ubuntu-24.04",
        "  lint:\n    runs_on: ubuntu-24.04",
        name="ci.yml",
    )
    errors = schema_errors(load_yaml(broken), WORKFLOW_SCHEMA)
    assert errors, "a job without runs-on must not validate"


def test_an_unpinned_action_is_caught(plant):
    broken = plant(
        ".github/workflows/ci.yml",
        "docker/setup-buildx-action@c47758b77c9736f4b2ef4073d4d51994fabfe349",
        "docker/setup-buildx-action@v3",
        name="ci.yml",
    )
    assert workflow_problems(load_yaml(broken)) == [
        "job 'image': docker/setup-buildx-action@v3 is not pinned to an exact version"
    ]


def test_building_before_the_tests_pass_is_caught(plant):
    broken = plant(
        ".github/workflows/ci.yml", "needs: [lint, test]", "needs: [lint]", name="ci.yml"
    )
    assert workflow_problems(load_yaml(broken)) == ["the image job must need lint and test"]


def test_a_missing_test_job_and_timeout_are_caught(plant):
    broken = plant(
        ".github/workflows/ci.yml",
        "        run: make test\n",
        "        run: make lint\n",
        name="ci.yml",
    )
    broken.write_text(broken.read_text().replace("    timeout-minutes: 30\n", ""))
    assert workflow_problems(load_yaml(broken)) == [
        "the test job does not run `make test`",
        "job 'image' has no timeout-minutes",
    ]


def test_every_action_is_pinned_by_commit_sha_with_its_tag_in_a_comment():
    uses = re.findall(r"- uses: (\S+)(.*)", WORKFLOW.read_text())
    assert uses
    for action, comment in uses:
        assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", action), action
        assert re.fullmatch(r" # v\d+\.\d+\.\d+", comment), (action, comment)


def _steps(job):
    return " ".join(step.get("run", "") for step in load_yaml(WORKFLOW)["jobs"][job]["steps"])


def test_the_model_gate_runs_on_pull_requests_against_the_target_branch():
    job = load_yaml(WORKFLOW)["jobs"]["model-gate"]
    assert job["if"] == "github.event_name == 'pull_request'"
    baseline = next(step for step in job["steps"] if step.get("with", {}).get("path") == "baseline")
    assert baseline["with"]["ref"] == "${{ github.event.pull_request.base.sha }}"
    assert "python -m examples.production.watching gate/current gate/candidate" in _steps(
        "model-gate"
    )


def test_the_audit_job_scans_the_hashed_requirements():
    assert "pip-audit --requirement requirements-service.txt --require-hashes" in _steps("audit")
    assert "schedule" in load_yaml(WORKFLOW)["on"]


def test_the_image_job_records_the_digest():
    steps = load_yaml(WORKFLOW)["jobs"]["image"]["steps"]
    assert any(step.get("id") == "build" for step in steps)
    assert "steps.build.outputs.imageid" in _steps("image")


DEPENDABOT_SCHEMA = bundled_schema("vendor/dependabot.json")


def test_dependabot_config_follows_its_schema_and_covers_what_we_pin():
    config = load_yaml(DEPENDABOT)
    assert schema_errors(config, DEPENDABOT_SCHEMA) == []
    assert {update["package-ecosystem"] for update in config["updates"]} == {
        "github-actions",
        "pip",
        "docker",
    }
    broken = dict(config, updates=[{"package-ecosystem": "pip", "directory": "/"}])
    assert schema_errors(broken, DEPENDABOT_SCHEMA), (
        "an update without a schedule must not validate"
    )
