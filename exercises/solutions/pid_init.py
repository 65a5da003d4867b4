"""Exercise 7, a solution: the pid stage with an init, out of the PID-1 trap.

The kernel gives PID 1 only the signals it has a handler for.  So PID 1 is
no longer the command but a small init: libns.run() starts the command as
PID 2, takes SIGINT, SIGTERM and the rest with sigwaitinfo and passes them
on, and waits, reaping orphans as PID 1 must.  The command, not being PID
1, dies of SIGTERM as any process does; the init then exits with 128+N, as
PID 1 cannot die of a signal sent to itself.
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


def child_exec(argv):
    """The child, after clone(): the pid stage's setup, then it becomes an init."""
    libns.mount(None, "/", None, libns.MS_REC | libns.MS_PRIVATE)
    libns.mount("none", "/tmp", "tmpfs", 0, "")
    libns.sethostname("custom_hostname")
    libns.mount("proc", "/proc", "proc", libns.MS_NOSUID | libns.MS_NODEV | libns.MS_NOEXEC, "")
    returncode = libns.run(0, None, argv, as_init=True)
    libns.flush_output()
    os._exit(128 - returncode if returncode < 0 else returncode)


if __name__ == "__main__":
    argv = libns.command_line(__doc__)
    child_stack = libns.map_stack()
    pid = libns.clone(child_exec, child_stack, clone_flags, argv)
    status = libns.waitpid(pid)
    libns.exit(status)
