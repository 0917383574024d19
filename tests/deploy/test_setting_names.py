"""Every SERVING_* variable that the deployment files set is one the service reads: a typo or a
setting renamed in examples/serving/ would otherwise be ignored without a word."""

import pytest

from .checks import DEPLOYMENT_FILES, REPO_ROOT, known_setting_names, unknown_setting_names


@pytest.fixture(scope="module")
def known():
    return known_setting_names()


def test_the_service_reads_the_settings_we_rely_on(known):
    assert {"SERVING_BIND", "SERVING_WORKERS", "SERVING_MODEL_DIR", "SERVING_DATABASE_URL"} <= known


@pytest.mark.parametrize("relative", DEPLOYMENT_FILES)
def test_deployment_file_sets_only_known_settings(relative, known):
    assert unknown_setting_names((REPO_ROOT / relative).read_text(), known) == []


def test_a_misspelled_setting_is_caught(plant, known):
    broken = plant("deploy/kubernetes/configmap.yaml", "SERVING_WORKERS:", "SERVING_WORKER:")
    assert unknown_setting_names(broken.read_text(), known) == ["SERVING_WORKER"]
