"""What each stage isolates, seen from outside the child and from inside it."""
import shutil
import subprocess
import sys

import pytest

from helpers import (NAMESPACE_STAGES, OUR_QUEUE_MODE, ROOT, STAGES, TIMEOUT, interfaces,
                     mount_table, namespace_ids, our_queues, read, run_stage, running_stage)

pytestmark = pytest.mark.usefixtures("namespaces_work")


@pytest.mark.parametrize("stage", STAGES)
def test_exactly_the_stage_s_namespaces_differ_from_the_host(stage):
    host = namespace_ids()
    with running_stage(stage) as (_, child):
        child_namespaces = namespace_ids(child)
    differing = {kind for kind in host if child_namespaces[kind] != host[kind]}
    assert differing == STAGES[stage]


@pytest.mark.parametrize("stage", STAGES)
def test_network_interfaces(stage):
    inside = run_stage(stage, "cat", "/proc/net/dev")
    assert inside.returncode == 0, inside.stderr
    expected = ["lo"] if "net" in STAGES[stage] else interfaces(read("/proc/net/dev"))
    assert interfaces(inside.stdout) == expected


@pytest.mark.parametrize("stage", NAMESPACE_STAGES)
def test_net_stage_seen_from_outside_has_only_lo(stage):
    with running_stage(stage) as (_, child):
        assert interfaces(read(f"/proc/{child}/net/dev")) == ["lo"]


@pytest.mark.skipif(not shutil.which("ip"), reason="needs iproute2's ip")
def test_ip_link_shows_lo_down_in_net_stage():
    inside = run_stage("net.py", "ip", "-o", "link")
    assert inside.returncode == 0, inside.stderr
    assert [line.split(":")[1].strip() for line in inside.stdout.splitlines()] == ["lo"]
    assert "state DOWN" in inside.stdout


@pytest.mark.parametrize("stage", STAGES)
def test_tmp_is_a_fresh_tmpfs_in_mount_stages_only(stage, tmp_path):
    host_file = tmp_path / "host-file"
    host_file.write_text("on the host")
    inside = run_stage(stage, "sh", "-c", "cat /proc/self/mountinfo; echo ===; ls -A /tmp;"
                       f" echo ===; cat {host_file} 2> /dev/null")
    assert inside.returncode in (0, 1), inside.stderr
    mountinfo, listing, seen = inside.stdout.split("===\n")
    tmp_mounts = [tuple(line.split()[-3:-1]) for line in mountinfo.splitlines()
                  if line.split()[4] == "/tmp"]
    host_tmp_mounts = [(fstype, source) for point, fstype, source in mount_table()
                       if point == "/tmp"]
    fresh = "mnt" in STAGES[stage]
    assert tmp_mounts == host_tmp_mounts + [("tmpfs", "none")] * fresh
    assert seen == ("" if fresh else "on the host")


TMP = ("/tmp", "tmpfs", "none")
PROC = ("/proc", "proc", "proc")


@pytest.mark.parametrize("stage, added", [
    ("net_mount.py", [TMP]), ("net_mount_uts.py", [TMP]), ("net_mount_uts_ipc.py", [TMP]),
    ("net_mount_uts_ipc_pid.py", [TMP, PROC]), ("net_mount_uts_ipc_pid_user.py", [TMP, PROC]),
])
def test_mount_stage_seen_from_outside(stage, added):
    host_mounts = mount_table()
    with running_stage(stage) as (_, child):
        child_mounts = mount_table(child)
    assert sorted(child_mounts) == sorted(host_mounts + added)


@pytest.mark.parametrize("stage", [s for s in NAMESPACE_STAGES if "mnt" in STAGES[s]])
def test_every_mount_inside_is_private(stage):
    inside = run_stage(stage, "cat", "/proc/self/mountinfo")
    assert inside.returncode == 0, inside.stderr
    optional_fields = [line.split(" - ")[0].split()[6:] for line in inside.stdout.splitlines()]
    assert [fields for fields in optional_fields if fields] == []


# Every tool that makes a mount namespace: the mount stages and container.py.
MOUNT_TOOLS = [stage for stage in NAMESPACE_STAGES if "mnt" in STAGES[stage]] + ["container.py"]


@pytest.mark.parametrize("tool", MOUNT_TOOLS)
def test_every_mount_inside_is_private_even_when_the_host_root_is_shared(tool):
    # Without MS_PRIVATE first, the copies of shared mounts stay peers (or,
    # in a user namespace, become slaves): a mount made on the host later
    # would show up inside.  mountinfo's optional fields name the peer group.
    script = f"""
        mount --make-rshared / || exit 90
        exec {sys.executable} {ROOT / tool} cat /proc/self/mountinfo
    """
    result = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                            capture_output=True, text=True, timeout=TIMEOUT)
    assert (result.returncode, result.stderr) == (0, "")
    optional_fields = [line.split(" - ")[0].split()[6:] for line in result.stdout.splitlines()]
    assert [fields for fields in optional_fields if fields] == []


@pytest.mark.parametrize("tool", MOUNT_TOOLS)
def test_mounts_stay_inside_even_when_the_host_root_is_shared(tool):
    # On systemd hosts / is shared.  Recreate that in a throwaway mount
    # namespace of the test, run the stage there, and check that neither its
    # tmpfs nor its /proc leaked out.  The control line first shows that a
    # tmpfs mounted without making mounts private does leak there.
    script = f"""
        mount --make-rshared / || exit 90
        unshare --mount --propagation unchanged mount -t tmpfs control /mnt || exit 91
        grep -c ' - tmpfs control ' /proc/self/mountinfo
        umount /mnt || exit 92
        before=$(wc -l < /proc/self/mountinfo)
        {sys.executable} {ROOT / tool} true || exit 93
        test "$(wc -l < /proc/self/mountinfo)" = "$before" && echo 0
        test -e /proc/self/mountinfo || exit 94
    """
    result = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                            capture_output=True, text=True, timeout=TIMEOUT)
    assert (result.stdout.split(), result.returncode) == (["1", "0"], 0), result.stderr


@pytest.mark.parametrize("stage", STAGES)
def test_hostname(stage):
    inside = run_stage(stage, "hostname")
    assert inside.returncode == 0, inside.stderr
    host = read("/proc/sys/kernel/hostname")
    assert inside.stdout == ("custom_hostname\n" if "uts" in STAGES[stage] else host)


def queue_ids(msg_text):
    """msqid column of /proc/sysvipc/msg."""
    return [line.split()[1] for line in msg_text.splitlines()[1:]]


@pytest.mark.skipif(not shutil.which("ipcmk"), reason="needs util-linux ipcmk")
@pytest.mark.parametrize("stage", STAGES)
def test_host_message_queue_visible_only_without_ipc_namespace(stage, host_queue):
    inside = run_stage(stage, "cat", "/proc/sysvipc/msg")
    assert inside.returncode == 0, inside.stderr
    expected = [] if "ipc" in STAGES[stage] else queue_ids(read("/proc/sysvipc/msg"))
    assert queue_ids(inside.stdout) == expected
    assert host_queue in queue_ids(read("/proc/sysvipc/msg"))


@pytest.mark.skipif(not shutil.which("ipcmk"), reason="needs util-linux ipcmk")
@pytest.mark.parametrize("stage", [s for s in NAMESPACE_STAGES if "ipc" in STAGES[s]])
def test_queue_made_inside_stays_inside(stage):
    inside = run_stage(stage, "sh", "-c", f"ipcmk -Q -p {OUR_QUEUE_MODE} > /dev/null && ipcs -q")
    assert inside.returncode == 0, inside.stderr
    queues = [line for line in inside.stdout.splitlines() if line.startswith("0x")]
    assert len(queues) == 1
    assert our_queues() == []  # another user's queues may come and go meanwhile


@pytest.mark.skipif(not shutil.which("ps"), reason="needs procps ps")
def test_pid_stage_shows_one_process_pid_1():
    inside = run_stage("net_mount_uts_ipc_pid.py", "ps", "-e", "-o", "pid=,comm=")
    assert inside.returncode == 0, inside.stderr
    assert inside.stdout.split() == ["1", "ps"]


@pytest.mark.skipif(not shutil.which("ps"), reason="needs procps ps")
def test_ps_auxf_in_pid_stage_lists_only_itself():
    inside = run_stage("net_mount_uts_ipc_pid.py", "ps", "auxf")
    assert inside.returncode == 0, inside.stderr
    header, *processes = inside.stdout.splitlines()
    assert header.split()[:2] == ["USER", "PID"]
    assert [line.split()[1] for line in processes] == ["1"]
    assert processes[0].endswith("ps auxf")


@pytest.mark.parametrize("stage", STAGES)
def test_pid_inside(stage):
    inside = run_stage(stage, "sh", "-c", "echo $$")
    assert inside.returncode == 0, inside.stderr
    assert (int(inside.stdout) == 1) == ("pid" in STAGES[stage])
