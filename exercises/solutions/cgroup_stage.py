"""Exercise 9, a solution: the pid stage plus the cgroup namespace.

CLONE_NEWCGROUP makes the child's current cgroup the root of its view:
/proc/self/cgroup shows "/" where the host sees the full path, and the
cgroup file system mounted inside shows only that subtree.
"""
import libns

clone_flags = (
    libns.CLONE_NEWCGROUP |
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


if __name__ == "__main__":
    libns.main(clone_flags, child, __doc__)
