"""Read a Dockerfile's instructions, so chapter 22 can run an image's command without Docker.

Only what the chapter needs: continuation lines joined, comments dropped, ENV and CMD understood.
Also the CPU quota of a control group, which os.cpu_count() does not see.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction, such as `ENV` with its arguments as written."""

    keyword: str
    arguments: str


def parse_instructions(text: str) -> list[Instruction]:
    """The instructions of a Dockerfile's text in order, each continuation (`\\` at a line's end)
    joined; comment lines, even inside a continuation, are dropped, as Docker does."""
    instructions, pending = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, arguments = (pending + stripped).partition(" ")
        instructions.append(Instruction(keyword.upper(), arguments.strip()))
        pending = ""
    return instructions


def read_instructions(path: str | Path) -> list[Instruction]:
    """The instructions of the Dockerfile at `path` (see parse_instructions)."""
    return parse_instructions(Path(path).read_text())


def image_environment(instructions: list[Instruction]) -> dict[str, str]:
    """The variables the image's ENV instructions set (`ENV A=1 B=2` form), later ones winning."""
    environment = {}
    for instruction in instructions:
        if instruction.keyword == "ENV":
            for pair in shlex.split(instruction.arguments):
                name, _, value = pair.partition("=")
                environment[name] = value
    return environment


def image_command(instructions: list[Instruction]) -> list[str]:
    """The command a container runs: the last CMD, which must be in exec (JSON list) form."""
    commands = [i for i in instructions if i.keyword == "CMD"]
    if not commands:
        raise ValueError("the Dockerfile has no CMD")
    command = json.loads(commands[-1].arguments)
    if not isinstance(command, list):
        raise ValueError("CMD is not in exec form (a JSON list)")
    return command


def health_check_command(instructions: list[Instruction]) -> list[str]:
    """The command of the HEALTHCHECK instruction (exec form), without its options."""
    for instruction in instructions:
        if instruction.keyword == "HEALTHCHECK":
            _, _, command = instruction.arguments.partition("CMD ")
            return json.loads(command)
    raise ValueError("the Dockerfile has no HEALTHCHECK")


def cpu_quota(cpu_max: str | Path = "/sys/fs/cgroup/cpu.max") -> float | None:
    """The CPU limit of this process's control group (cgroup v2) in CPUs, or None when there is
    none. The file holds "QUOTA PERIOD" in microseconds, or "max PERIOD" for no limit."""
    try:
        quota, period = Path(cpu_max).read_text().split()
    except (OSError, ValueError):
        return None
    return None if quota == "max" else int(quota) / int(period)
