""".github/workflows/ci.yml: it parses as GitHub reads it (YAML 1.2), follows the workflow schema
(shipped offline by check-jsonschema) and our rules; each check fails on a planted error."""

import pytest
import yaml

from .checks import REPO_ROOT, bundled_schema, load_yaml, schema_errors, workflow_problems

WORKFLOW = REPO_ROOT / ".github" / "workflows" / "ci.yml"


@pytest.fixture(scope="module")
def workflow_schema():
    schema = bundled_schema("vendor/github-workflows.json")
    if schema is None:
        pytest.skip("check-jsonschema (which ships the workflow schema) is not installed")
    return schema


def test_workflow_follows_the_github_schema(workflow_schema):
    assert schema_errors(load_yaml(WORKFLOW), workflow_schema) == []


def test_workflow_follows_our_rules():
    assert workflow_problems(load_yaml(WORKFLOW)) == []


def test_a_yaml_1_1_reader_turns_on_into_true():
    # Why checks.load_yaml exists: PyYAML's safe_load reads the key `on` as the boolean True.
    plain = yaml.safe_load(WORKFLOW.read_text())
    assert True in plain and "on" not in plain
    assert workflow_problems(plain)[0].startswith("no 'on:' trigger")


def test_schema_catches_a_misspelled_key(plant, workflow_schema):
    broken = plant(
        ".github/workflows/ci.yml",
        "    runs-on: ubuntu-24.04\n    timeout-minutes: 10",
        "    runs_on: ubuntu-24.04\n    timeout-minutes: 10",
        name="ci.yml",
    )
    errors = schema_errors(load_yaml(broken), workflow_schema)
    assert errors, "a job without runs-on must not validate"


def test_an_unpinned_action_is_caught(plant):
    broken = plant(
        ".github/workflows/ci.yml",
        "docker/setup-buildx-action@v3.7.1",
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
