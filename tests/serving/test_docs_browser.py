"""The docs page really renders in chromium, from local files only (marked browser: make browser)."""

import shutil
import subprocess

import pytest

from examples.serving import Settings, create_app
from examples.toolbox import serve_app

pytestmark = pytest.mark.browser
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def rendered_dom(url: str, profile) -> str:
    """The page's document after its scripts ran, as chromium sees it."""
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium is not installed (make system-deps)")
    args = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}"]
    args += ["--virtual-time-budget=8000", "--dump-dom", url]
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=True).stdout


def test_swagger_ui_renders_every_endpoint(model_dir, tmp_path):
    app = create_app(Settings.isolated(tmp_path, model_dir))
    with serve_app(app) as server:
        dom = rendered_dom(server.url + "/docs", tmp_path / "profile")
    assert "Unable to render" not in dom
    for path in ("/v1/predict", "/v1/predict/batch", "/v1/model", "/healthz", "/readyz"):
        assert f'data-path="{path}"' in dom
