"""Rootless: every stage as an ordinary user, through a user namespace.

CI runs as root, so these tests drop to uid and gid 65534 (nobody) for the
tool itself: see run_as_nobody in conftest.py.
"""
import subprocess
import sys

import pytest

from helpers import (NAMESPACE_STAGES, NAMESPACE_TYPES, NOBODY, ROOT, STAGES, TIMEOUT, interfaces,
                     read, run_as_nobody, stage_env)

pytestmark = pytest.mark.usefixtures("namespaces_work")

USER_STAGE = "net_mount_uts_ipc_pid_user.py"


# One command shows what each stage isolates: uid, hostname, interfaces, pid,
# the fs type of /tmp, the message queues, the uid map, then namespace ids.
LOOK_AROUND = ("id -u; hostname; cat /proc/net/dev; echo ===; echo $$; stat -f -c %T /tmp;"
               " tail -n +2 /proc/sysvipc/msg | wc -l; cat /proc/self/uid_map; echo ===;"
               f" for kind in {' '.join(NAMESPACE_TYPES)}; do readlink /proc/self/ns/$kind; done")


def look_around_as_nobody(folder, stage):
    """(namespaces made, uid, hostname, interfaces, pid, /tmp's fs type, queues, uid map)."""
    # The outer shell prints its own namespaces first: the baseline to differ from.
    show_namespaces = (f"for kind in {' '.join(NAMESPACE_TYPES)};"
                       " do readlink /proc/self/ns/$kind; done; echo ===")
    result = run_as_nobody(folder, stage, "sh", "-c", LOOK_AROUND, before=show_namespaces)
    assert (result.returncode, result.stderr) == (0, "")
    outside, identity, facts, inside = result.stdout.split("===\n")
    uid, hostname, net_dev = identity.split("\n", 2)
    pid, tmp_fstype, queue_count, uid_map = facts.split(None, 3)
    new = {kind for kind, mine, theirs in zip(NAMESPACE_TYPES, inside.split(), outside.split())
           if mine != theirs}
    return new, uid, hostname, interfaces(net_dev), pid, tmp_fstype, queue_count, uid_map


def test_base_stage_as_an_ordinary_user_makes_no_namespace(world_readable_copy):
    # base.py creates no namespace, so needs no user namespace either.
    new, uid, *_ = look_around_as_nobody(world_readable_copy, "base.py")
    assert (new, uid) == (set(), str(NOBODY))


@pytest.mark.parametrize("stage", NAMESPACE_STAGES)
def test_every_stage_isolates_for_an_ordinary_user_as_for_root(stage, world_readable_copy,
                                                               host_queue):
    (new, uid, hostname, interfaces_inside, pid, tmp_fstype, queue_count,
     uid_map) = look_around_as_nobody(world_readable_copy, stage)
    assert new == STAGES[stage] | {"user"}
    assert uid == "0"
    assert uid_map.split() == ["0", str(NOBODY), "1"]
    assert interfaces_inside == ["lo"]
    host_tmp_fstype = subprocess.run(["stat", "-f", "-c", "%T", "/tmp"], capture_output=True,
                                     text=True, check=True).stdout.strip()
    host_queue_count = str(len(read("/proc/sysvipc/msg").splitlines()) - 1)
    assert tmp_fstype == ("tmpfs" if "mnt" in new else host_tmp_fstype)
    host_hostname = read("/proc/sys/kernel/hostname").strip()
    assert hostname == ("custom_hostname" if "uts" in new else host_hostname)
    assert queue_count == ("0" if "ipc" in new else host_queue_count)
    assert (pid == "1") == ("pid" in new)


def test_user_stage_as_root_maps_root_to_root():
    result = subprocess.run([sys.executable, str(ROOT / USER_STAGE), "sh", "-c",
                             "cat /proc/self/uid_map /proc/self/gid_map; id -u"],
                            capture_output=True, text=True, env=stage_env(), timeout=TIMEOUT)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.split() == ["0", "0", "1", "0", "0", "1", "0"]


def test_disabled_user_namespaces_are_named_with_their_setting():
    # user.max_user_namespaces is per user namespace, and writable from a
    # fresh proc inside one: set it to 0 in a user namespace of the test
    # only, as a host with user namespaces turned off would have it.
    script = f"""
        echo 0 > /proc/sys/user/max_user_namespaces || exit 90
        exec {sys.executable} {ROOT / USER_STAGE} echo the command ran
    """
    result = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "--pid", "--fork",
                             "--mount-proc", "sh", "-c", script],
                            capture_output=True, text=True, env=stage_env(), timeout=TIMEOUT)
    assert (result.returncode, result.stdout) == (125, "")
    assert result.stderr == (
        f"{USER_STAGE}: clone CLONE_NEWUSER|CLONE_NEWPID|CLONE_NEWIPC|CLONE_NEWUTS|CLONE_NEWNS|"
        "CLONE_NEWNET|SIGCHLD: No space left on device (user namespaces are disabled:"
        " sysctl user.max_user_namespaces is 0)\n")
