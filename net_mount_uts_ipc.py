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


def child():
    """The child's setup, between clone() and execvp() of the command."""
    libns.mount(None, "/", None, libns.MS_REC | libns.MS_PRIVATE)
    libns.mount("none", "/tmp", "tmpfs", 0, "")
    libns.sethostname("custom_hostname")


if __name__ == "__main__":
    libns.main(clone_flags, child, __doc__)
