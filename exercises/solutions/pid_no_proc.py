"""Exercise 6, a solution: the pid stage without its fresh /proc.

The command is PID 1 (`echo $$` says so), yet `ps` lists the host's
processes: ps reads /proc, and the /proc it finds is the host's, which shows
the PID namespace of whoever mounted it.  A PID namespace changes what
process ids are; only a proc mounted from inside shows them.
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
    libns.execvp(argv)


if __name__ == "__main__":
    argv = libns.command_line(__doc__)
    child_stack = libns.map_stack()
    pid = libns.clone(child_exec, child_stack, clone_flags, argv)
    status = libns.waitpid(pid)
    libns.exit(status)
