"""pids_limit_on_its_own_cgroup.py: a wrong attempt check.py must explain.

pids.max written on the tool's own cgroup, not on the new one: the caller's limit.

A cgroup is a directory, a limit is a file, joining is writing a pid.  The
parent makes the cgroup below its own, writes the limit, and puts the child
in it with prepare=, while the child still waits for "go": the command's
first fork is already counted.  The cgroup goes when the tool does.
"""
import os

import libns

clone_flags = (
    libns.CLONE_NEWPID |
    libns.CLONE_NEWIPC |
    libns.CLONE_NEWUTS |
    libns.CLONE_NEWNS |
    libns.CLONE_NEWNET |
    libns.SIGCHLD
)


def own_pids_cgroup():
    """The directory of our own cgroup in the pids controller's tree, v1 or v2."""
    with open("/proc/self/cgroup") as own:
        lines = [line.rstrip("\n").split(":", 2) for line in own]
    v1 = [path for _, controllers, path in lines if "pids" in controllers.split(",")]
    if v1:
        return "/sys/fs/cgroup/pids" + v1[0].rstrip("/")
    return "/sys/fs/cgroup" + [path for _, _, path in lines if _ == ""][0].rstrip("/")


def make_cgroup(limit):
    """A cgroup below ours with pids.max `limit`, removed when the tool leaves."""
    cgroup = f"{own_pids_cgroup()}/exercise-13.{os.getpid()}"
    os.mkdir(cgroup)
    libns.at_exit(lambda: os.rmdir(cgroup))
    with open(f"{own_pids_cgroup()}/pids.max", "w") as pids_max:
        pids_max.write(str(limit))
    return cgroup


def join(cgroup, pid):
    with open(f"{cgroup}/cgroup.procs", "w") as procs:
        procs.write(str(pid))


def child_exec(argv):
    """The child, after clone(): its setup, then it becomes the command."""
    libns.mount(None, "/", None, libns.MS_REC | libns.MS_PRIVATE)
    libns.mount("none", "/tmp", "tmpfs", 0, "")
    libns.sethostname("custom_hostname")
    libns.mount("proc", "/proc", "proc", libns.MS_NOSUID | libns.MS_NODEV | libns.MS_NOEXEC, "")
    libns.execvp(argv)


if __name__ == "__main__":
    argv = libns.command_line(__doc__)
    cgroup = make_cgroup(20)
    child_stack = libns.map_stack()
    pid = libns.clone(child_exec, child_stack, clone_flags, argv,
                      prepare=lambda pid: join(cgroup, pid))
    status = libns.waitpid(pid)
    libns.exit(status)  # + at_exit: the cgroup, empty now, is removed
