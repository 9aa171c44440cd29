"""The CPUs `LAUNCHSEQ_WORKERS=auto` counts: the affinity, capped by a cgroup quota read from
real files laid out as a container's or a systemd host's / are (a tmp directory as the root)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from launchsequence.config import load_settings
from launchsequence.cpus import CpuBudget, cgroup_quota, cpu_budget


def lay_out(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


V2 = "sys/fs/cgroup"
V1 = "sys/fs/cgroup/cpu,cpuacct"


@pytest.mark.parametrize(
    ("files", "quota"),
    [
        # cgroup v2 in a container (its own cgroup namespace: "0::/"), `docker run --cpus=...`
        ({"proc/self/cgroup": "0::/\n", f"{V2}/cpu.max": "max 100000\n"}, None),
        ({"proc/self/cgroup": "0::/\n", f"{V2}/cpu.max": "100000 100000\n"}, 1.0),
        ({"proc/self/cgroup": "0::/\n", f"{V2}/cpu.max": "150000 100000\n"}, 1.5),
        ({"proc/self/cgroup": "0::/\n", f"{V2}/cpu.max": "50000 100000\n"}, 0.5),
        # a host under systemd: the unit's cgroup has the quota (CPUQuota=200%), root has none
        (
            {
                "proc/self/cgroup": "0::/system.slice/launchsequence.service\n",
                f"{V2}/system.slice/launchsequence.service/cpu.max": "200000 100000\n",
                f"{V2}/system.slice/cpu.max": "max 100000\n",
            },
            2.0,
        ),
        # a parent's quota holds its children: the tightest on the way up counts
        (
            {
                "proc/self/cgroup": "0::/system.slice/launchsequence.service\n",
                f"{V2}/system.slice/launchsequence.service/cpu.max": "max 100000\n",
                f"{V2}/system.slice/cpu.max": "300000 100000\n",
            },
            3.0,
        ),
        # no cgroup namespace: the host's path is not under the mount; the mount's top is the
        # container's cgroup
        (
            {
                "proc/self/cgroup": "0::/system.slice/docker-0123abcd.scope\n",
                f"{V2}/cpu.max": "250000 100000\n",
            },
            2.5,
        ),
        # cgroup v1: quota over period, -1 for none; the process's own group or the mount's top
        (
            {
                "proc/self/cgroup": "4:cpu,cpuacct:/\n3:memory:/\n",
                f"{V1}/cpu.cfs_quota_us": "-1\n",
                f"{V1}/cpu.cfs_period_us": "100000\n",
            },
            None,
        ),
        (
            {
                "proc/self/cgroup": "4:cpu,cpuacct:/docker/0123abcd\n",
                f"{V1}/cpu.cfs_quota_us": "200000\n",
                f"{V1}/cpu.cfs_period_us": "100000\n",
            },
            2.0,
        ),
        (
            {
                "proc/self/cgroup": "1:cpu:/limited\n0::/\n",
                "sys/fs/cgroup/cpu/limited/cpu.cfs_quota_us": "50000\n",
                "sys/fs/cgroup/cpu/limited/cpu.cfs_period_us": "50000\n",
                "sys/fs/cgroup/cpu/cpu.cfs_quota_us": "-1\n",
                "sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000\n",
            },
            1.0,
        ),
        # nothing there, or nothing readable: no quota
        ({}, None),
        ({"proc/self/cgroup": "0::/\n"}, None),
        ({f"{V2}/cpu.max": "150000 100000\n"}, 1.5),  # no /proc: the mount's top
        ({"proc/self/cgroup": "0::/\n", f"{V2}/cpu.max": "a lot\n"}, None),
        ({"proc/self/cgroup": "0::/\n", f"{V2}/cpu.max": ""}, None),
        ({"proc/self/cgroup": "0::/\n", f"{V2}/cpu.max": "0 100000\n"}, None),
        ({"proc/self/cgroup": "0::/\n", f"{V1}/cpu.cfs_quota_us": "100000\n"}, None),  # no period
        # a /proc/self/cgroup it cannot make sense of: the mount's top still counts
        ({"proc/self/cgroup": "garbage\n", f"{V2}/cpu.max": "100000 100000\n"}, 1.0),
    ],
)
def test_the_cgroup_quota_is_read_from_the_files(tmp_path, files, quota):
    assert cgroup_quota(lay_out(tmp_path, files)) == quota


def test_an_unreadable_file_is_no_quota(tmp_path):
    root = lay_out(tmp_path, {"proc/self/cgroup": "0::/\n"})
    (root / V2 / "cpu.max").mkdir(parents=True)  # a directory: reading it fails
    assert cgroup_quota(root) is None


@pytest.mark.parametrize(
    ("cores", "quota", "count", "why"),
    [
        (2, None, 2, "2 cores available"),
        (1, None, 1, "1 core available"),
        (16, 1.0, 1, "16 cores available, cgroup CPU quota 1"),  # docker run --cpus=1
        (16, 1.5, 2, "16 cores available, cgroup CPU quota 1.5"),
        (16, 0.5, 1, "16 cores available, cgroup CPU quota 0.5"),  # at least one
        (2, 4.0, 2, "2 cores available"),  # a quota above the cores changes nothing
    ],
)
def test_one_worker_per_cpu_the_affinity_and_quota_allow(cores, quota, count, why):
    budget = CpuBudget(cores, quota)
    assert (budget.count, budget.describe()) == (count, why)


def test_auto_on_this_machine_is_its_affinity_capped_by_its_quota():
    cores = len(os.sched_getaffinity(0))
    budget = cpu_budget()
    assert budget.cores == cores
    assert budget.quota == cgroup_quota()
    count, why = load_settings(environ={}).worker_plan()  # the default is 'auto'
    assert count == budget.count and 1 <= count <= cores
    assert why == f"auto: {budget.describe()}"
