"""How many CPUs this process may use: the cores its affinity allows, capped by a cgroup quota.

`LAUNCHSEQ_WORKERS=auto` (the default) runs one worker per CPU this counts. The affinity
(`sched_getaffinity`: taskset, a cpuset, `docker run --cpuset-cpus`) says which cores the
process may run on; a CFS quota (`docker run --cpus`, systemd's `CPUQuota=`, a Kubernetes CPU
limit) says how much CPU time it may use on them. `docker run --cpus=1` on a 16-core host leaves
all 16 cores in the affinity and one CPU of time: 16 workers there would only take turns, each
with its own memory. So the count is min(cores, ceil(quota)), at least 1.

The quota is the tightest found on the process's own cgroup and each of its parents (a systemd
unit's quota, or its slice's), as `/proc/self/cgroup` names them, under the cgroup v2 mount
(`cpu.max`: "max 100000", or "150000 100000" for 1.5 CPUs) and the cgroup v1 `cpu` controller's
(`cpu.cfs_quota_us`, -1 for none, over `cpu.cfs_period_us`). In a container the mount shows the
container's own cgroup at its top, which is among the places read, whatever path
`/proc/self/cgroup` names. A file that is missing or unreadable is no quota.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CpuBudget", "cgroup_quota", "cpu_budget"]

#: Where cgroup v2 (the unified hierarchy) and the v1 `cpu` controller are mounted, relative to
#: the root; `unified` is the v2 mount of a hybrid system.
_V2_MOUNTS = ("sys/fs/cgroup", "sys/fs/cgroup/unified")
_V1_MOUNTS = ("sys/fs/cgroup/cpu", "sys/fs/cgroup/cpu,cpuacct")


@dataclass(frozen=True)
class CpuBudget:
    """The cores the affinity allows and the CPUs the cgroup quota allows (None: no quota)."""

    cores: int
    quota: float | None = None

    @property
    def count(self) -> int:
        """One worker per CPU: min(cores, ceil(quota)), at least 1. (A quota is a ratio of two
        whole numbers of microseconds: a whole one divides exactly, so ceil never rounds up a
        quota of 2 CPUs to 3.)"""
        if self.quota is None:
            return max(1, self.cores)
        return max(1, min(self.cores, math.ceil(self.quota)))

    def describe(self) -> str:
        """Why `count`, for the startup line: '2 cores available', or '16 cores available,
        cgroup CPU quota 1.5'."""
        text = f"{self.cores} core{'' if self.cores == 1 else 's'} available"
        if self.quota is not None and math.ceil(self.quota) < self.cores:
            text += f", cgroup CPU quota {self.quota:g}"
        return text


def cpu_budget(root: Path = Path("/")) -> CpuBudget:
    """This process's affinity count and the cgroup quota read under `root` (a test passes a
    directory laid out as / is)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return CpuBudget(max(1, cores), cgroup_quota(root))


def cgroup_quota(root: Path = Path("/")) -> float | None:
    """The tightest CPU quota (in CPUs) on this process's cgroup or a parent, v2 and v1; None
    when there is none or none can be read."""
    v2_path, v1_path = _own_cgroups(root / "proc/self/cgroup")
    found: list[float] = []
    for mount in _V2_MOUNTS:
        for directory in _levels(root / mount, v2_path):
            quota = _v2_quota(directory / "cpu.max")
            if quota is not None:
                found.append(quota)
    for mount in _V1_MOUNTS:
        for directory in _levels(root / mount, v1_path):
            quota = _v1_quota(directory)
            if quota is not None:
                found.append(quota)
    return min(found, default=None)


def _own_cgroups(path: Path) -> tuple[str, str]:
    """The process's cgroup v2 path ("0::PATH") and v1 `cpu` controller path
    ("N:cpu,cpuacct:PATH") from /proc/self/cgroup; "/" for any it does not give."""
    v2, v1 = "/", "/"
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError):
        return v2, v1
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hierarchy, controllers, cgroup = parts
        if hierarchy == "0" and controllers == "":
            v2 = cgroup
        elif "cpu" in controllers.split(","):
            v1 = cgroup
    return v2, v1


def _levels(mount: Path, cgroup: str) -> Iterator[Path]:
    """The cgroup's directory under `mount`, then each parent's up to the mount itself. Those
    that are not there (a container's mount without a cgroup namespace has the container's
    cgroup at its top, not the host's path to it) are read as no quota."""
    parts = [p for p in cgroup.split("/") if p not in ("", ".", "..")]
    for end in range(len(parts), -1, -1):
        yield mount.joinpath(*parts[:end])


def _v2_quota(path: Path) -> float | None:
    """`cpu.max`: "QUOTA PERIOD" in microseconds, QUOTA "max" for none."""
    fields = _read(path).split()
    if not fields or fields[0] == "max":
        return None
    try:
        quota = int(fields[0])
        period = int(fields[1]) if len(fields) > 1 else 100_000
    except ValueError:
        return None
    return quota / period if quota > 0 and period > 0 else None


def _v1_quota(directory: Path) -> float | None:
    """`cpu.cfs_quota_us` (-1 for none) over `cpu.cfs_period_us`."""
    try:
        quota = int(_read(directory / "cpu.cfs_quota_us"))
        period = int(_read(directory / "cpu.cfs_period_us"))
    except ValueError:
        return None
    return quota / period if quota > 0 and period > 0 else None


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return ""
