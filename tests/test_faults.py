"""Faults: the command crashes, the tool is killed mid-setup, init leaves children behind."""
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from helpers import (PID_STAGE, ROOT, STAGES, TIMEOUT, host_namespaces, processes_with, run_stage,
                     stage_env, wait_until)

pytestmark = pytest.mark.usefixtures("namespaces_work")



@pytest.mark.parametrize("signum, shell_status", [(signal.SIGKILL, 137), (signal.SIGSEGV, 139),
                                                  (signal.SIGTERM, 143)])
@pytest.mark.parametrize("stage", [stage for stage in STAGES if "pid" not in STAGES[stage]])
def test_shell_sees_128_plus_n_for_a_killed_command(stage, signum, shell_status):
    command = f"'{sys.executable}' '{ROOT / stage}' sh -c 'kill -{signum.name[3:]} $$'; echo $?"
    shell = subprocess.run(["sh", "-c", command], capture_output=True, text=True,
                           env=stage_env(), timeout=TIMEOUT)
    assert shell.stdout == f"{shell_status}\n"


def test_no_core_file_when_the_command_crashes(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "base.py"), "sh", "-c", "kill -SEGV $$"],
                            cwd=tmp_path, capture_output=True, env=stage_env(), timeout=TIMEOUT)
    assert result.returncode == -signal.SIGSEGV
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("stage", [PID_STAGE, "net_mount_uts.py"])
def test_tool_killed_at_random_moments_leaves_nothing_behind(stage):
    seed = random.randrange(1 << 32)
    print(f"random seed: {seed}")
    moments = random.Random(seed)
    marker = f"1000.{seed}"  # `sleep 1000.SEED`: a command line no one else has
    namespaces_before = host_namespaces()
    # Kill before, during and after setup: anywhere in twice the time the
    # stage takes, here and now, from its start to its command's end.
    started = time.monotonic()
    run_stage(stage, "true")
    window = 2 * (time.monotonic() - started)
    print(f"killing within {window * 1000:.0f} ms")
    for _ in range(100):
        tool = subprocess.Popen([sys.executable, str(ROOT / stage), "sleep", marker],
                                env=stage_env(), stdout=subprocess.DEVNULL)
        time.sleep(moments.uniform(0, window))
        tool.kill()
        tool.wait()
    wait_until(lambda: processes_with(marker) == [], "every child of a killed tool is gone")
    wait_until(lambda: host_namespaces() == namespaces_before,
               "the namespaces of killed children are gone")


def test_pid_stage_ends_when_its_init_exits_leaving_a_background_child():
    marker = f"1000.{random.randrange(1 << 32)}"
    result = run_stage(PID_STAGE, "sh", "-c", f"sleep {marker} & exit 3")
    assert result.returncode == 3
    # The kernel kills every process of a PID namespace when its init exits.
    wait_until(lambda: processes_with(marker) == [], "the background sleep is gone")
