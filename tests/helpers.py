"""Helpers for the tests: run a stage, look at its child from outside.

Nothing here imitates the kernel.  Every test starts real children in real
namespaces and compares what it sees with the host.  Fixtures and hooks are
in conftest.py; everything a test imports is here.
"""
import contextlib
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import libns  # noqa: E402 (from the checkout, whatever the current directory)


def copy_programs(folder):
    """Copy what the programs need into `folder`: the scripts and the runtime package."""
    import shutil
    for script in ROOT.glob("*.py"):
        shutil.copy(script, folder)
    shutil.copytree(ROOT / "runtime", Path(folder) / "runtime",
                    ignore=shutil.ignore_patterns("__pycache__"))


def make_tiny_rootfs(root, programs=("sh", "cat", "ls", "sleep")):
    """A root file system at `root` of the host's `programs` and their libraries; `root`."""
    import shutil
    for name in ("bin", "proc", "dev", "sys", "tmp"):
        (root / name).mkdir(parents=True)
    for program in programs:
        path = shutil.which(program)
        shutil.copy(path, root / "bin" / program)
        libraries = subprocess.run(["ldd", path], capture_output=True, text=True).stdout
        for word in libraries.split():
            if word.startswith("/") and os.path.exists(word):
                (root / word[1:]).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(word, root / word[1:])
    return root


# Each stage, and the namespaces its child does not share with the host.
STAGES = {
    "base.py": set(),
    "net.py": {"net"},
    "net_mount.py": {"net", "mnt"},
    "net_mount_uts.py": {"net", "mnt", "uts"},
    "net_mount_uts_ipc.py": {"net", "mnt", "uts", "ipc"},
    "net_mount_uts_ipc_pid.py": {"net", "mnt", "uts", "ipc", "pid"},
    "net_mount_uts_ipc_pid_user.py": {"net", "mnt", "uts", "ipc", "pid", "user"},
}
# The tutorial stops at the pid stage: the user stage has no C twin.
C_TWIN = {
    "base.py": "base",
    "net.py": "net",
    "net_mount.py": "net_mount",
    "net_mount_uts.py": "net_mount_utc",
    "net_mount_uts_ipc.py": "net_mount_utc_ipc",
    "net_mount_uts_ipc_pid.py": "net_mount_utc_ipc_pid",
}
NAMESPACE_STAGES = [stage for stage, new in STAGES.items() if new]
# Every kind of namespace, from libns's one table of them.
NAMESPACE_TYPES = [name for name, _, _, _ in libns.NAMESPACES]
# The stage whose command is PID 1 of its namespace: the tutorial's last.
PID_STAGE = "net_mount_uts_ipc_pid.py"
TIMEOUT = 60  # seconds; only a guard against a hang, never a speed limit
CAP_SYS_ADMIN = 21


def stage_env(**changes):
    """The tests' environment for a stage, with PYTHONUNBUFFERED unset.

    An environment that sets it would hide output printed twice or lost:
    the tool must flush Python's buffers itself around clone() and exec.
    """
    env = dict(os.environ)
    env.pop("PYTHONUNBUFFERED", None)
    env.update(changes)
    return env


def run_stage(stage, *command, text=True, env=None, **kwargs):
    """Run `python3 STAGE COMMAND...` to the end; return the CompletedProcess."""
    return subprocess.run([sys.executable, str(ROOT / stage), *command],
                          capture_output=True, text=text, env=env or stage_env(),
                          timeout=TIMEOUT, **kwargs)


def run_container(*arguments, **kwargs):
    """Run `python3 container.py ARGUMENTS...` to the end; return the CompletedProcess."""
    return run_stage("container.py", *arguments, **kwargs)


def run_python(code, timeout=TIMEOUT):
    """Run a Python snippet that imports libns; return the CompletedProcess."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=stage_env(PYTHONPATH=str(ROOT)), timeout=timeout)


def namespace_ids(pid="self"):
    """{'net': 'net:[4026531840]', ...}: the namespaces a process is in."""
    return {kind: os.readlink(f"/proc/{pid}/ns/{kind}")
            for kind in NAMESPACE_TYPES if os.path.exists(f"/proc/self/ns/{kind}")}


def children_of(pid):
    """The pids of a process's children, from /proc/PID/task/PID/children."""
    with open(f"/proc/{pid}/task/{pid}/children") as children:
        return [int(child) for child in children.read().split()]


def comm_of(pid):
    with open(f"/proc/{pid}/comm") as comm:
        return comm.read().strip()


def is_alive(pid):
    """True while `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def wait_until(predicate, what):
    """Poll `predicate` until it holds; fail after TIMEOUT seconds."""
    deadline = time.monotonic() + TIMEOUT
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}")
        time.sleep(0.01)


# A command that says when it is ready, then opens nothing and waits on stdin.
# (`cat` would do, but it briefly holds a locale file open at start-up.)
WAITER = (sys.executable, "-c", "import sys; print('ready', flush=True); sys.stdin.read()")


@contextlib.contextmanager
def running_stage(stage, *command, ready_as=None, pass_fds=()):
    """Start a stage running `command` (default: WAITER, which waits on stdin).

    Yields (tool, child_pid) once the child has exec'd the command (or, with
    `ready_as`, once its process name is that), so that a test can look at
    the child from outside.  Leaving the block closes the command's stdin
    and waits for the tool.
    """
    tool = subprocess.Popen([sys.executable, str(ROOT / stage), *(command or WAITER)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=stage_env(), pass_fds=pass_fds)
    try:
        if command:
            name = (ready_as or os.path.basename(command[0]))[:15]
            wait_until(lambda: [comm_of(child) for child in children_of(tool.pid)] == [name],
                       f"{stage} runs {name}")
        else:
            assert tool.stdout.readline() == b"ready\n"
        [child] = children_of(tool.pid)
        yield tool, child
    finally:
        tool.stdin.close()
        try:
            tool.wait(timeout=TIMEOUT)
        finally:
            if tool.poll() is None:
                tool.kill()
                tool.wait()
            tool.stdout.close()
            tool.stderr.close()


def processes_with(marker):
    """Pids of live processes whose command line contains `marker`."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                if marker.encode() in cmdline.read() and is_alive(pid):
                    found.append(int(pid))
        except OSError:
            pass
    return found


def host_namespaces():
    """Every distinct namespace some process on the host is in."""
    found = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            kinds = os.listdir(f"/proc/{pid}/ns")
            found.update(os.readlink(f"/proc/{pid}/ns/{kind}") for kind in kinds)
        except OSError:
            pass
    return found


def mount_table(pid="self"):
    """The mounts of a process as (mount point, fs type, source), in mount order."""
    with open(f"/proc/{pid}/mountinfo") as mountinfo:
        mounts = []
        for line in mountinfo:
            fields = line.split()
            separator = fields.index("-")
            mounts.append((fields[4], fields[separator + 1], fields[separator + 2]))
        return mounts


def interfaces(net_dev_text):
    """Interface names from the text of /proc/net/dev."""
    return [line.split(":")[0].strip() for line in net_dev_text.splitlines()[2:]]


def table_commands():
    """The commands of the README's stage table, column "try"."""
    rows = [line for line in read(ROOT / "README.md").splitlines() if line.startswith("| [`")]
    return [re.search(r"`([^`]+)`", row.split(" | ")[3]).group(1) for row in rows]


def read(path):
    with open(path) as file:
        return file.read()


# What the tests' own message queues are made with (ipcmk -p): a queue of
# ours that reaches the host can be told from another user's.
OUR_QUEUE_MODE = "0642"
# The hostnames our tools and tests set, and where our tools mount.
OUR_HOSTNAMES = {"custom_hostname", "container", "tiny", "changed-inside"}
OUR_MOUNT_POINTS = {"/", "/tmp", "/proc", "/mnt"}
OUR_MOUNT_PREFIXES = ("/proc/", "/dev/", "/etc/", "/usr/", "/tmp/usr", "/tmp/etc", "/tmp/proc",
                      "/tmp/dev", "/tmp/tmp", "/tmp/bin", "/tmp/sbin", "/tmp/lib")


def our_queues():
    """msqid of each System V message queue on the host made with OUR_QUEUE_MODE."""
    lines = read("/proc/sysvipc/msg").splitlines()[1:]
    return sorted(line.split()[1] for line in lines if line.split()[2] == OUR_QUEUE_MODE[1:])


def cgroups_refusal():
    """Why the limits' tests cannot run here (a read-only cgroup file system); None if they can."""
    from runtime import cgroups
    return cgroups.cannot_make(["memory", "pids", "cpu"])


def _dead_tools_cgroups():
    """The container cgroups below our own whose tool is gone (runtime/cgroups.py names them
    containers-do-not-exist.PID after the tool), or whose OCI container is (...oci.ID, empty)."""
    from runtime import cgroups
    left = []
    parents = {cgroups._directory(mount, cgroups.own_cgroups().get(controller, "/"))
               for controller, mount in [("", cgroups.mounts()["v2"]),
                                         *cgroups.mounts()["v1"].items()] if mount}
    for parent in sorted(filter(None, parents)):
        for name in os.listdir(parent) if os.path.isdir(parent) else []:
            pid = name[len(cgroups.PREFIX):].split(".")[0]
            if not name.startswith(cgroups.PREFIX):
                continue
            try:
                gone = (not os.path.exists(f"/proc/{pid}") if pid.isdigit()
                        else not read(f"{parent}/{name}/cgroup.procs"))
            except FileNotFoundError:  # removed meanwhile
                continue
            if gone:
                left.append(f"{parent}/{name}")
    return left


# What another user (or an earlier, killed run) left before this suite began is not ours to
# count: only what appears while the suite runs can be a leak of ours.
LEFT_BEFORE_US = frozenset(_dead_tools_cgroups())


def cgroups_left_behind():
    """The container cgroups whose tool is gone that were not there when the suite began:
    a leak of ours. Another user's container, whose tool still runs, is not counted."""
    return [path for path in _dead_tools_cgroups() if path not in LEFT_BEFORE_US]


def host_state():
    """What no stage may change, as far as our own tools could change it.

    The hostname, if it became one our tools set; the mounts at the places
    our tools mount on; the /proc we see; the message queues our tests make;
    the host ends of veth pairs; the cgroups our tools leave behind.  Another user of the
    machine who makes a queue or a mount elsewhere meanwhile does not fail
    the suite; any leak of ours does.
    """
    hostname = read("/proc/sys/kernel/hostname").strip()
    return {
        "hostname": hostname if hostname in OUR_HOSTNAMES else "(not one of ours)",
        "mounts": sorted(mount for mount in mount_table() if mount[0] in OUR_MOUNT_POINTS
                         or mount[0].startswith(OUR_MOUNT_PREFIXES)),
        "proc": os.stat("/proc/self").st_dev,
        "queues": our_queues(),
        # The host ends our tools name after their addresses (runtime/network.py):
        # Docker's veth names have seven digits, and its bridges other names.
        "interfaces": [name for name in interfaces(read("/proc/net/dev"))
                       if re.fullmatch("veth[0-9a-f]{6}", name)],
        "cgroups": cgroups_left_behind(),
    }


# Tests of ordinary users run the tool as nobody.  Nobody cannot read a
# checkout under /root, nor an interpreter there (pyenv's), so the scripts are
# copied to a world-readable folder and the interpreter's installation is
# bind-mounted beside them, in a throwaway mount namespace of the test.
NOBODY = 65534


def as_nobody(folder, stage, *command, before=""):
    """The argv that runs STAGE COMMAND as uid/gid 65534; `before` runs first, as root.

    An interpreter built with --enable-shared (pyenv's often are) finds its
    libpython by an absolute path under /root: LD_LIBRARY_PATH points it to
    the bind mount instead.
    """
    interpreter = os.path.relpath(os.path.realpath(sys.executable), sys.base_prefix)
    script = f"""
        mount --bind '{sys.base_prefix}' '{folder}/python' || exit 90
        {before}
        LD_LIBRARY_PATH='{folder}/python/lib' exec setpriv --reuid={NOBODY} --regid={NOBODY} \\
            --clear-groups '{folder}/python/{interpreter}' '{folder}/{stage}' "$@"
    """
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", *command]


def run_as_nobody(folder, stage, *command, before=""):
    """Run STAGE COMMAND as uid/gid 65534 to the end; the CompletedProcess."""
    return subprocess.run(as_nobody(folder, stage, *command, before=before),
                          capture_output=True, text=True, env=stage_env(), timeout=TIMEOUT)



def run_with_proc_sys_hidden(*argv):
    """Run argv as root of a new user namespace while /proc/sys is hidden by a mount.

    The kernel then refuses a fresh proc (mount_too_revealing in
    fs/namespace.c), as it does under Docker's masked /proc paths: a stage's
    setup fails halfway, after its first mounts.  All of it happens in a
    throwaway mount namespace of the test.
    """
    script = """
        mount -t tmpfs hide /proc/sys || exit 90
        exec unshare --user --map-root-user --mount "$@"
    """
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script,
                           "sh", *argv], capture_output=True, text=True, env=stage_env(),
                          timeout=TIMEOUT)


def id_mapping_refusal(path):
    """Why the file system at `path` cannot be id-mapped here, as --userns maps layers; or None.

    overlayfs (the root of a Docker container) cannot be: there, --userns
    with --image or --rootfs says so and exits 125.
    """
    userns = libns.user_namespace([(0, 100000, 65536)], [(0, 100000, 65536)])
    try:
        os.close(libns.clone_mount(str(path), libns.MOUNT_ATTR_RDONLY, userns))
    except OSError as error:
        return f"{path} cannot be id-mapped here ({error.strerror})"
    finally:
        os.close(userns)
    return None


# Run in a cgroup namespace whose root is our own cgroup, every cgroup file
# system mounted again there (the mount namespace is new too, private).
IN_CGROUP_NAMESPACE = """
import os, subprocess, sys
sys.path.insert(0, sys.argv[1])
from runtime import cgroups
found = cgroups.mounts()
mounts = [("cgroup", point, ",".join(controllers))
          for point, controllers in found["v1 trees"].items()]
mounts += [("cgroup2", found["v2"][0], "rw")] if found["v2"] else []
# The kernel refuses a file system on the point it is mounted on already:
# a new tmpfs first, where the old one was, with a new mount of each tree.
top = os.path.commonpath([point for _, point, _ in mounts])
top = top if len(mounts) > 1 else os.path.dirname(top)
subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=755", "tmpfs", top], check=True)
for kind, point, options in mounts:
    os.makedirs(point, exist_ok=True)
    subprocess.run(["mount", "-t", kind, "-o", options, kind, point], check=True)
os.execvp(sys.argv[2], sys.argv[2:])
"""


def in_cgroup_namespace(command):
    """`command` in a mount namespace and a cgroup namespace of its own, whose cgroup root is ours.

    Absolute cgroup paths (the validation suite's /cgrouptest, Podman's
    /libpod_parent) are then below our own cgroup, as this machine's rules
    want (its memory cgroup is a nested one), and a mount the command makes
    is not the host's.
    """
    return ["unshare", "--mount", "--propagation", "private", "--cgroup", sys.executable, "-c",
            IN_CGROUP_NAMESPACE, str(ROOT), *command]
