"""Exercise 7: the pid stage with an init, out of the PID-1 trap.

Start from a copy of the pid stage (this file): make the child an init that
runs the command as PID 2, passes signals on to it and waits for it, so
that Ctrl-C and SIGTERM stop even `sleep`.  See EXERCISES.md.

Run it:      sudo PYTHONPATH=. python3 exercises/pid_init.py ps -e
Check it:    sudo python3 exercises/check.py 7
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


def child():
    """The child's setup, between clone() and execvp() of the command."""
    libns.mount(None, "/", None, libns.MS_REC | libns.MS_PRIVATE)
    libns.mount("none", "/tmp", "tmpfs", 0, "")
    libns.sethostname("custom_hostname")
    libns.mount("proc", "/proc", "proc", libns.MS_NOSUID | libns.MS_NODEV | libns.MS_NOEXEC, "")
    # Your code here: become an init that runs the command as PID 2.


if __name__ == "__main__":
    libns.main(clone_flags, child, __doc__)
