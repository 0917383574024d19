"""examples/production/containers.py reads the Dockerfile the way chapter 22 uses it."""

import pytest

from examples.production.containers import (
    health_check_command,
    image_command,
    image_environment,
    read_instructions,
)

PLANTED = """\
# a comment
FROM python:3.11.7-slim-bookworm
ENV A=1 \\
    B="two words"
ENV A=3
CMD gunicorn app:app
"""


def test_reads_the_real_dockerfile():
    instructions = read_instructions("Dockerfile")
    assert instructions[0].keyword == "FROM"
    assert image_command(instructions)[0] == "gunicorn"
    assert image_environment(instructions)["SERVING_BIND"].endswith(":8000")
    assert "/healthz" in " ".join(health_check_command(instructions))


def test_continuations_comments_and_later_env_wins(tmp_path):
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(PLANTED)
    instructions = read_instructions(dockerfile)
    assert [i.keyword for i in instructions] == ["FROM", "ENV", "ENV", "CMD"]
    assert image_environment(instructions) == {"A": "3", "B": "two words"}


def test_shell_form_cmd_and_missing_instructions_are_refused(tmp_path):
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(PLANTED)
    with pytest.raises(ValueError):
        image_command(read_instructions(dockerfile))
    with pytest.raises(ValueError, match="no HEALTHCHECK"):
        health_check_command(read_instructions(dockerfile))
    dockerfile.write_text("FROM scratch\n")
    with pytest.raises(ValueError, match="no CMD"):
        image_command(read_instructions(dockerfile))


def test_cpu_quota_reads_cgroup_v2_cpu_max(tmp_path):
    from examples.production.containers import cpu_quota

    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text("150000 100000\n")  # docker run --cpus=1.5
    assert cpu_quota(cpu_max) == 1.5
    cpu_max.write_text("max 100000\n")
    assert cpu_quota(cpu_max) is None
    assert cpu_quota(tmp_path / "absent") is None
