"""net_mount_uts_ipc.py: the child gets IPC objects of its own.

The C twin: c/net_mount_utc_ipc.c

CLONE_NEWIPC gives the child its own System V message queues, semaphores
and shared memory, and its own POSIX message queues.  Nothing to set up: a
new IPC namespace simply starts empty.

Try:    ipcmk -Q; python3 net_mount_uts_ipc.py ipcs -q
        python3 net_mount_uts_ipc.py sh -c 'ipcmk -Q && ipcs -q'; ipcs -q
You see: the host's queue is not listed inside; the queue made inside is
listed there and never on the host.  (Remove the host's with ipcrm -q ID.)
"""
import libns

clone_flags = (
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
    libns.execvp(argv)


if __name__ == "__main__":
    argv = libns.command_line(__doc__)  # -h, -v, --; from here errors exit as docker run's
    child_stack = libns.map_stack()
    pid = libns.clone(child_exec, child_stack, clone_flags, argv)  # + what C lacks: see libns
    status = libns.waitpid(pid)  # + passes signals on, as docker run: see libns.waitpid
    libns.exit(status)  # the command's status, or die by its signal
