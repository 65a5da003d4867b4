"""preflight.py: what this machine allows, and what is missing, before a class.

Usage:  python3 preflight.py [--class N]

Checks, in the order a first run meets them: the Python, the kernel's
namespaces, whether an ordinary user may make a user namespace (the
settings that refuse one, then a real rootless stage), the tools the
stages and exercises run, pytest for this python3, where the checkout is,
and what `sudo python3` would run.  With --class N, also what N students
side by side need: enough user namespaces, and a bound on each one's
processes.  One line a check; "missing" lines say what to do.  Exits 0 when
nothing is missing, 1 when something is, 2 for a bad call.

Nothing here changes the machine: the rootless stage runs `id -u` in
namespaces that die with it.
"""
import os
import shutil
import subprocess
import sys

import libns

ROOT = os.path.dirname(os.path.abspath(__file__))
NAMESPACES = ("cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts")
# Each tool, what needs it, and the Debian package that has it.
TOOLS = (
    ("ip", "the stage table, exercises 1 and 2", "iproute2"),
    ("ps", "the pid stages, exercises 6 and 7", "procps"),
    ("ipcmk", "exercise 5", "util-linux"),
    ("unshare", "check.py, exercise 3", "util-linux"),
    ("nsenter", "exercise 8", "util-linux"),
    ("mount", "check.py", "mount"),
    ("gcc", "exercise 11 and the C twins", "gcc libc6-dev"),
)
NOBODY = 65534
USER_NAMESPACES_PER_STUDENT = 8  # a stage, a container, check.py's own: a few each


def python_version():
    version = ".".join(map(str, sys.version_info[:3]))
    if sys.version_info < (3, 8):
        return False, f"CPython {version}: 3.8 or newer is needed"
    if sys.version_info[:3] == (3, 14, 0):
        return False, "CPython 3.14.0 aborts on a clone()'s stack (cpython #139653): use 3.14.1"
    return True, f"CPython {version} (3.8 or newer)"


def kernel_namespaces():
    missing = [kind for kind in NAMESPACES if not os.path.exists(f"/proc/self/ns/{kind}")]
    if missing:
        return False, (f"this kernel has no {', '.join(missing)} namespace: container.py needs"
                       " them all (Linux 5.6 or newer)")
    return True, f"namespaces: {', '.join(NAMESPACES)}"


def user_namespaces():
    """The settings first, then a real rootless stage, as a student would run one."""
    refusal = libns.user_namespace_refusal()
    if refusal:
        return False, f"user namespaces for ordinary users: {refusal}"
    if os.geteuid() == 0:
        # Root's stage proves nothing of a student's: run one as nobody.
        command = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                   *command_of_the_user_stage()]
        how = "as nobody"
    else:
        command, how = command_of_the_user_stage(), "as yourself"
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        return False, f"a rootless stage did not run: {error}"
    if done.returncode != 0 or done.stdout != "0\n":
        said = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        return False, f"a stage in a user namespace failed, {how}: {said}"
    return True, f"user namespaces: a stage ran {how} as root of its own (id -u said 0)"


def command_of_the_user_stage():
    return [sys.executable, os.path.join(ROOT, "net_mount_uts_ipc_pid_user.py"), "id", "-u"]


def tools():
    for name, needed_by, package in TOOLS:
        if shutil.which(name):
            yield True, f"{name} ({needed_by})"
        else:
            yield False, f"{name}, for {needed_by}: sudo apt install {package}"


def pytest_here():
    try:
        import pytest
    except ImportError:
        return False, ("pytest, for this python3: sudo apt install python3-pytest (Debian,"
                       " Ubuntu), or python3 -m pip install pytest in a venv")
    return True, f"pytest {pytest.__version__}, for this python3"


def checkout_place():
    if ROOT == "/tmp" or ROOT.startswith("/tmp/"):
        return False, (f"the checkout is under /tmp ({ROOT}): the mount stages put a tmpfs"
                       " there, and the examples that run its files inside cannot find them;"
                       " clone it in your home")
    return True, f"the checkout is outside /tmp ({ROOT})"


def what_sudo_runs():
    """sudo's secure_path finds /usr/bin/python3, not a pyenv's or a venv's."""
    here = os.path.realpath(sys.executable)
    system = shutil.which("python3", path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin"
                                          ":/sbin:/bin")
    if system and os.path.realpath(system) == here:
        return None
    return f"sudo python3 runs {system or 'no python3'}, not this one: sudo {sys.executable} ..."


def for_a_class(students):
    """What N students side by side need of the machine."""
    try:
        with open("/proc/sys/user/max_user_namespaces") as setting:
            allowed = int(setting.read())
    except (OSError, ValueError):
        allowed = None
    needed = students * USER_NAMESPACES_PER_STUDENT
    if allowed is not None and allowed < needed:
        yield False, (f"user.max_user_namespaces is {allowed}, for {students} students at least"
                      f" {needed}: sudo sysctl user.max_user_namespaces={needed}")
    else:
        yield True, f"user.max_user_namespaces is {allowed}, enough for {students} students"
    # A student's fork bomb inside a stage is theirs alone only if their
    # processes are bounded below what the machine has: RLIMIT_NPROC (whose
    # default, threads-max/2, bounds nothing), or systemd's TasksMax per user.
    import resource
    soft, _ = resource.getrlimit(resource.RLIMIT_NPROC)
    with open("/proc/sys/kernel/pid_max") as setting:
        pid_max = int(setting.read())
    tasks_max = systemd_tasks_max()
    whose = "root's, not a student's: run it as one" if os.geteuid() == 0 else "yours"
    if soft != resource.RLIM_INFINITY and soft <= pid_max // 4:
        yield True, f"a student's processes are bounded (ulimit -u {soft}, {whose})"
    elif tasks_max:
        yield True, f"a student's processes are bounded (systemd's TasksMax {tasks_max} a user)"
    else:
        yield False, (f"nothing bounds a student's processes below the machine's {pid_max}"
                      f" (ulimit -u {'unlimited' if soft == resource.RLIM_INFINITY else soft},"
                      f" {whose}): set nproc in /etc/security/limits.conf, or TasksMax= for"
                      " user-.slice")


def systemd_tasks_max():
    try:
        done = subprocess.run(["systemctl", "show", "-p", "TasksMax", "--value", "user-.slice"],
                              capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    value = done.stdout.strip()
    return value if done.returncode == 0 and value not in ("", "infinity") else None


def main(arguments):
    students = None
    if arguments[:1] == ["--class"] and len(arguments) == 2 and arguments[1].isdigit() \
            and int(arguments[1]) > 0:
        students = int(arguments[1])
    elif arguments:
        print("usage: preflight.py [--class N]", file=sys.stderr)
        return 2
    checks = [python_version(), kernel_namespaces(), user_namespaces(), *tools(), pytest_here(),
              checkout_place()]
    if students:
        checks += for_a_class(students)
    missing = 0
    for right, what in checks:
        print(f"  {'ok' if right else 'missing':8} {what}")
        missing += not right
    note = what_sudo_runs()
    if note:
        print(f"  {'note':8} {note}")
    print("All set." if not missing else f"{missing} thing(s) missing.")
    return 1 if missing else 0


if __name__ == "__main__":
    libns.run_script(main)
