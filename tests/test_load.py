"""Load: many runs, one after another in one parent and side by side, leak nothing.

Marked `load` and left out of the default run; run them with
`python3 -m pytest -m load` (CI does).  Nothing here times anything:
bench.py measures speed.
"""
import json
import random
import subprocess
import sys
import textwrap

import pytest

from helpers import (PID_STAGE, ROOT, TIMEOUT, host_namespaces, mount_table, processes_with,
                     run_python, stage_env, wait_until)

pytestmark = [pytest.mark.load, pytest.mark.usefixtures("namespaces_work")]



def test_a_thousand_runs_in_one_long_lived_parent_leak_nothing():
    namespaces_before = host_namespaces()
    result = run_python(textwrap.dedent("""
        import json, os, libns
        import net_mount_uts_ipc_pid as stage

        def snapshot():
            with open("/proc/self/status") as status:
                rss_kib = int(next(line for line in status if line.startswith("VmRSS")).split()[1])
            with open(f"/proc/{os.getpid()}/task/{os.getpid()}/children") as children:
                return {"fds": sorted(os.listdir("/proc/self/fd")), "rss_kib": rss_kib,
                        "children": children.read().split()}

        def run_once():
            pid = libns.clone(stage.child_exec, libns.map_stack(), stage.clone_flags, ["true"])
            return libns.waitpid(pid)

        for _ in range(20):  # let caches and allocators settle first
            run_once()
        before = snapshot()
        statuses = {run_once() for _ in range(1000)}
        print(json.dumps({"before": before, "after": snapshot(), "statuses": sorted(statuses)}))
    """), timeout=10 * TIMEOUT)
    assert result.stderr == ""
    report = json.loads(result.stdout)
    before, after = report["before"], report["after"]
    assert report["statuses"] == [0]
    assert after["fds"] == before["fds"]
    assert after["children"] == []  # no zombie left unreaped
    # A leak of one stack or one ctypes callback per run would be megabytes.
    assert after["rss_kib"] - before["rss_kib"] < 1024, report
    wait_until(lambda: host_namespaces() == namespaces_before, "the runs' namespaces are gone")


def test_a_hundred_runs_side_by_side_leak_nothing():
    mounts_before, namespaces_before = mount_table(), host_namespaces()
    marker = f"0.000{random.randrange(1 << 32)}"  # `sleep 0.000N`: a command line no one else has
    tools = [subprocess.Popen([sys.executable, str(ROOT / PID_STAGE), "sleep", marker],
                              env=stage_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(100)]
    results = [(tool.wait(timeout=10 * TIMEOUT), *tool.communicate()) for tool in tools]
    assert results == [(0, b"", b"")] * 100
    assert processes_with(marker) == []
    assert mount_table() == mounts_before
    wait_until(lambda: host_namespaces() == namespaces_before, "the runs' namespaces are gone")
