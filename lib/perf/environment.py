"""The facts a reader needs to compare timings: date, machine, library versions, threads."""

from __future__ import annotations

import os
import platform
import subprocess
import time
from collections.abc import Sequence

import torch


def cpu_model_name() -> str:
    """The CPU model (``lscpu``'s "Model name" on Linux, else :func:`platform.processor`)."""
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10, check=False).stdout
        for line in text.splitlines():
            if line.strip().startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return platform.processor() or platform.machine()


def describe_environment(devices: Sequence[str] = ("cpu",)) -> dict[str, str]:
    """Date, machine, library versions and threads: what a reader needs to compare numbers."""
    env = {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "cpu": f"{cpu_model_name()} ({os.cpu_count()} logical cores)",
        "torch": torch.__version__,
        "threads": str(torch.get_num_threads()),
        "python": platform.python_version(),
    }
    if "cuda" in devices and torch.cuda.is_available():
        env["gpu"] = torch.cuda.get_device_name()
        env["cuda"] = str(torch.version.cuda)
        env["tf32 matrix products"] = "off in fp32 rows, on in tf32 rows"
    return env
