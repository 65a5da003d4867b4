"""Exercise 7: the pid stage with an init, out of the PID-1 trap.

Below is the pid stage, copied.  Make the child an init: instead of
becoming the command, it runs the command as PID 2, passes signals on to it
and waits for it, so that Ctrl-C and SIGTERM stop even `sleep`.  See
EXERCISES.md.

Run it:      python3 exercises/pid_init.py ps -e
Check it:    python3 exercises/check.py 7
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
    """The child, after clone(): the pid stage's setup, then it becomes an init."""
    libns.mount(None, "/", None, libns.MS_REC | libns.MS_PRIVATE)
    libns.mount("none", "/tmp", "tmpfs", 0, "")
    libns.sethostname("custom_hostname")
    libns.mount("proc", "/proc", "proc", libns.MS_NOSUID | libns.MS_NODEV | libns.MS_NOEXEC, "")
    # Your code here: run the command (argv) as PID 2, wait for it, exit with its status.
    libns.execvp(argv)


if __name__ == "__main__":
    argv = libns.command_line(__doc__)
    child_stack = libns.map_stack()
    pid = libns.clone(child_exec, child_stack, clone_flags, argv)
    status = libns.waitpid(pid)
    libns.exit(status)
