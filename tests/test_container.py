"""container.py: its own root, only its own mounts, an init, and a clean host."""
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from helpers import (NAMESPACE_TYPES, ROOT, TIMEOUT, as_nobody, namespace_ids, processes_with,
                     mount_table, read, run_as_nobody, run_container, run_with_proc_sys_hidden,
                     stage_env, wait_until)

pytestmark = pytest.mark.usefixtures("namespaces_work")

HOST_DIRECTORIES = ("usr", "bin", "sbin", "lib", "lib64", "etc")
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
BOUND_DIRECTORIES = [f"/{name}" for name in HOST_DIRECTORIES
                     if os.path.isdir(f"/{name}") and not os.path.islink(f"/{name}")]
# The container's whole mount table, in mount order.
# Docker's masked and read-only paths of /proc, those this kernel has.
HIDDEN_PATHS = [path for path in ("/proc/acpi", "/proc/asound", "/proc/interrupts",
                                       "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                                       "/proc/sched_debug", "/proc/scsi", "/proc/timer_list",
                                       "/proc/timer_stats", "/sys/firmware",
                                       "/sys/devices/virtual/powercap", "/proc/bus", "/proc/fs",
                                       "/proc/irq",
                                       "/proc/sys", "/proc/sysrq-trigger") if os.path.exists(path)]
# MS_REC binds the host's mounts below them too: under Docker, /etc/hosts,
# /etc/hostname and /etc/resolv.conf.
BOUND_MOUNTS = [point for directory in BOUND_DIRECTORIES
                for point in [directory] + [mount[0] for mount in mount_table()
                                            if mount[0].startswith(f"{directory}/")]]
# In runc's order: the spec's mounts, then the devices, then the paths hidden.
DEFAULT_MOUNTS = (["/", *BOUND_MOUNTS, "/proc", "/dev", "/dev/pts", "/dev/shm", "/tmp", "/sys"]
                  + [f"/dev/{name}" for name in DEVICES if os.path.exists(f"/dev/{name}")]
                  + HIDDEN_PATHS)


def mounts_and_options(mountinfo):
    """[(mount point, per-mount options)] from the text of /proc/self/mountinfo."""
    return [(line.split()[4], line.split()[5]) for line in mountinfo.splitlines()]


@pytest.fixture(params=["root", "nobody"])
def as_user(request, world_readable_copy):
    """Run container.py as root, then as an ordinary user."""
    if request.param == "root":
        return run_container
    return lambda *arguments: run_as_nobody(world_readable_copy, "container.py", *arguments)


def test_mount_table_inside_is_exactly_the_container_s(as_user):
    result = as_user("cat", "/proc/self/mountinfo")
    assert (result.returncode, result.stderr) == (0, "")
    assert [point for point, _ in mounts_and_options(result.stdout)] == DEFAULT_MOUNTS


def test_etc_and_usr_are_read_only(as_user):
    # test -w asks access(2), which answers EROFS for a read-only mount and
    # writes nothing: a broken bind must not let the test write to the host.
    result = as_user("sh", "-c", "cat /proc/self/mountinfo; test -w /etc || test -w /usr;"
                     " echo $?")
    *mountinfo, status = result.stdout.splitlines()
    options = dict(mounts_and_options("\n".join(mountinfo)))
    assert status == "1"
    assert [options[point].split(",")[0] for point in BOUND_DIRECTORIES] == (
        ["ro"] * len(BOUND_DIRECTORIES))


def test_writes_to_tmp_stay_inside(as_user):
    name = f"written-inside-{random.randrange(1 << 32)}"
    result = as_user("sh", "-c", f"echo x > /tmp/{name} && ls /tmp")
    assert (result.returncode, result.stdout) == (0, f"{name}\n")
    assert not os.path.exists(f"/tmp/{name}")


def test_ps_shows_the_init_and_the_command(as_user):
    result = as_user("ps", "-e", "-o", "pid=,comm=")
    processes = [line.split() for line in result.stdout.splitlines()]
    assert [pid for pid, _ in processes] == ["1", "2"]
    assert processes[0][1].startswith("python")
    assert processes[1][1] == "ps"


def test_every_namespace_but_user_differs_from_the_host_s(as_user):
    show = f"for kind in {' '.join(NAMESPACE_TYPES)}; do readlink /proc/self/ns/$kind; done"
    result = as_user("sh", "-c", show)
    host = namespace_ids()
    inside = dict(zip(NAMESPACE_TYPES, result.stdout.split()))
    differing = {kind for kind in host if inside[kind] != host[kind]}
    expected = {"mnt", "uts", "ipc", "pid", "net", "cgroup", "time"} & set(host)
    assert differing == (expected if as_user is run_container else expected | {"user"})


def test_uptime_inside_starts_near_zero(as_user):
    started = time.monotonic()
    result = as_user("cat", "/proc/uptime")
    elapsed = time.monotonic() - started
    uptime_inside = float(result.stdout.split()[0])
    # The clocks start while the container starts, so they cannot show more
    # than the whole run took; the host's shows its whole life.
    assert uptime_inside <= elapsed < float(read("/proc/uptime").split()[0])


def test_orphans_are_reaped(as_user):
    # The subshell's `sleep` is orphaned at once and handed to PID 1; when it
    # ends, only PID 1's wait() removes its zombie.
    result = as_user("sh", "-c", "(sleep 0.1 &); sleep 0.6; ps -e -o stat=,comm=")
    states = [line.split()[0] for line in result.stdout.splitlines()]
    assert (result.returncode, [state for state in states if state.startswith("Z")]) == (0, [])


@pytest.fixture(params=["root", "nobody"])
def container_argv(request, world_readable_copy):
    """container.py's argv with a command, as root, then as an ordinary user."""
    if request.param == "root":
        return lambda *command: [sys.executable, str(ROOT / "container.py"), *command]
    return lambda *command: as_nobody(world_readable_copy, "container.py", *command)


def test_sigterm_to_the_tool_ends_a_sleep_inside(container_argv):
    marker = f"1000.{random.randrange(1 << 32)}"
    tool = subprocess.Popen(container_argv("sleep", marker), env=stage_env(),
                            stderr=subprocess.PIPE)
    wait_until(lambda: any(read(f"/proc/{pid}/comm") == "sleep\n"
                           for pid in processes_with(marker)), "sleep runs inside")
    # As nobody too, tool.pid is the tool: unshare, sh and setpriv exec it.
    tool.send_signal(signal.SIGTERM)
    assert tool.wait(timeout=TIMEOUT) == 128 + signal.SIGTERM
    assert processes_with(marker) == []
    tool.stderr.close()


def test_rootfs_is_the_root(tiny_rootfs, as_user):
    result = as_user("--rootfs", str(tiny_rootfs), "--hostname", "tiny", "sh", "-c",
                     "ls /; cat /proc/sys/kernel/hostname")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.split() == sorted(os.listdir(tiny_rootfs)) + ["tiny"]


def test_rootfs_without_a_command_runs_its_sh(tiny_rootfs):
    result = subprocess.run([sys.executable, str(ROOT / "container.py"), "--rootfs",
                             str(tiny_rootfs)], input="echo $$ from the image\n",
                            capture_output=True, text=True, env=stage_env(), timeout=TIMEOUT)
    assert (result.returncode, result.stdout) == (0, "2 from the image\n")


def without(path):
    """Remove `path` (a file or an empty directory) from a rootfs; the rootfs."""
    (path.unlink if path.is_file() else path.rmdir)()
    return path.parent if path.parent.name != "bin" else path.parent.parent


@pytest.mark.parametrize("make_problem, message", [
    (lambda rootfs: rootfs / "missing", "No such file or directory"),
    (lambda rootfs: rootfs / "bin" / "sh", "Not a directory"),
    (lambda rootfs: without(rootfs / "bin" / "sh"), "no /bin/sh to run; name a command"),
    (lambda rootfs: without(rootfs / "proc"), "no /proc directory to mount on"),
    (lambda rootfs: "/", "this is the host's own root; a container needs a root of its own"),
    (lambda rootfs: "", "an empty path names no directory"),
], ids=["missing", "a file", "no /bin/sh", "no /proc", "the host's root", "empty"])
def test_bad_rootfs_is_refused_before_anything_starts(make_problem, message, tiny_rootfs):
    rootfs = make_problem(tiny_rootfs)
    before = sorted(os.listdir(tiny_rootfs))
    result = run_container("--rootfs", str(rootfs))
    assert (result.returncode, result.stdout) == (125, "")
    assert result.stderr == f"container.py: --rootfs {rootfs}: {message}\n"
    assert sorted(os.listdir(tiny_rootfs)) == before


@pytest.mark.parametrize("option", ["--rootfs", "--rootfs-rw"])
def test_setup_failing_halfway_leaves_nothing(tiny_rootfs, option):
    # The kernel refuses a fresh proc in a user namespace while parts of
    # /proc are hidden: container.py fails after its first mounts.
    before = sorted(p.name for p in tiny_rootfs.rglob("*"))
    result = run_with_proc_sys_hidden(sys.executable, ROOT / "container.py", option,
                                      tiny_rootfs, "sh", "-c", "echo the command ran")
    assert (result.returncode, result.stdout) == (125, "")
    root = "/tmp/root" if option == "--rootfs" else tiny_rootfs  # the overlay, or the bind
    assert result.stderr == f"container.py: mount proc on {root}/proc: Operation not permitted\n"
    assert sorted(p.name for p in tiny_rootfs.rglob("*")) == before


def test_unknown_option_and_missing_value_are_125():
    assert run_container("--rootfs").returncode == 125
    result = run_container("--bogus")
    assert (result.returncode, result.stderr.splitlines()[0]) == (125, (
        "container.py: unknown option '--bogus' (put -- before a command that starts with '-')"))


def test_rootfs_without_sh_runs_a_named_command_or_says_it_is_not_found(tiny_rootfs):
    (tiny_rootfs / "bin" / "sh").unlink()
    result = run_container("--rootfs", str(tiny_rootfs), "/bin/sh", "-c", "true")
    assert (result.returncode, result.stderr) == (
        127, "container.py: execvp /bin/sh: No such file or directory\n")


def test_rootfs_nobody_may_read_is_permission_denied(tiny_rootfs, world_readable_copy):
    tiny_rootfs.chmod(0o700)
    result = run_as_nobody(world_readable_copy, "container.py", "--rootfs", str(tiny_rootfs),
                           "true")
    assert (result.returncode, result.stderr) == (
        125, f"container.py: --rootfs {tiny_rootfs}: Permission denied\n")


@pytest.mark.parametrize("net", ["none", "host"])
def test_sys_is_read_only_all_the_way_down(as_user, net):
    # As docker run has it.  An ordinary user with --net host may not mount
    # a sysfs (the network namespace is the host's): the host's /sys is
    # bound instead, as runc binds it, every mount below it read-only too.
    result = as_user("--net", net, "sh", "-c", "touch /sys/kernel/x; cat /proc/self/mountinfo")
    assert result.returncode == 0
    assert result.stderr.endswith("Read-only file system\n")
    below = [options for point, options in mounts_and_options(result.stdout)
             if point == "/sys" or point.startswith("/sys/")]
    assert below and all(options.split(",")[0] == "ro" for options in below)
