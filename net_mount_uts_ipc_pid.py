"""net_mount_uts_ipc_pid.py: the child gets process ids of its own.

The C twin: c/net_mount_utc_ipc_pid.c

CLONE_NEWPID starts a new PID namespace, and the child is its PID 1, its
init.  `ps` reads /proc, and the /proc we inherited shows the host's
processes, so the child mounts a fresh proc on top of it (nosuid, nodev,
noexec as usual): a proc mounted from inside shows the new namespace.
The mount stays inside because the child made every mount private first.

As PID 1 the command inherits init's privilege: the kernel drops any
signal it has no handler for, so Ctrl-C does not stop `sleep 100` here.
The tool passes the first one on anyway and sends SIGKILL on the second.

Try:    python3 net_mount_uts_ipc_pid.py ps auxf
        python3 net_mount_uts_ipc_pid.py         (a shell inside; try `ps`)
You see: a single process, PID 1; the host's `ps` is unchanged.
"""
import libns

clone_flags = (
    libns.CLONE_NEWPID |
    libns.CLONE_NEWIPC |
    libns.CLONE_NEWUTS |
    libns.CLONE_NEWNS |
    libns.CLONE_NEWNET |
    libns.SIGCHLD
)


def child_exec(argv):
    """The child, after clone(): its setup, then it becomes the command."""
    libns.mount(None, "/", None, libns.MS_REC | libns.MS_PRIVATE)
    libns.mount("none", "/tmp", "tmpfs", 0, "")
    libns.sethostname("custom_hostname")
    libns.mount("proc", "/proc", "proc", libns.MS_NOSUID | libns.MS_NODEV | libns.MS_NOEXEC, "")
    libns.execvp(argv)


if __name__ == "__main__":
    argv = libns.command_line(__doc__)  # -h, -v, --; from here errors exit as docker run's
    child_stack = libns.map_stack()
    pid = libns.clone(child_exec, child_stack, clone_flags, argv)  # + what C lacks: see libns
    status = libns.waitpid(pid)  # + passes signals on, as docker run: see libns.waitpid
    libns.exit(status)  # the command's status, or die by its signal
