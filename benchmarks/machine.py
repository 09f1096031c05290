"""What every benchmark prints first: the machine its figures were measured on.

`describe()` → "AMD EPYC …, 2 cores, load 1.20/0.90/0.70, Python 3.11.7[, torch 2.13.0, threads 1, GPU …]".
The load average is part of it because these machines are often shared: a figure taken at load 3
on 2 cores is not comparable with one taken on an idle machine (ratios taken in the same run are).
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, else what `platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def describe(*, torch: bool | None = None) -> str:
    """One line naming CPU, cores, load, Python and — when torch is imported (or `torch=True`) — torch,
    its thread count and the GPU."""
    parts = [cpu_model(), f"{os.cpu_count()} cores"]
    if hasattr(os, "getloadavg"):
        parts.append("load {:.2f}/{:.2f}/{:.2f}".format(*os.getloadavg()))
    parts.append(f"Python {platform.python_version()}")
    if torch or (torch is None and "torch" in sys.modules):
        import torch as _torch

        parts += [f"torch {_torch.__version__}", f"threads {_torch.get_num_threads()}"]
        if _torch.cuda.is_available():
            parts.append(f"GPU {_torch.cuda.get_device_name(0)}")
    return ", ".join(parts)
