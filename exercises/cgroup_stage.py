"""Exercise 9: a stage of your own, with one more namespace.

Start from a copy of the pid stage (this file) and add the cgroup
namespace: the command's /proc/self/ns/cgroup must differ from the host's.
See EXERCISES.md.

Run it:      sudo PYTHONPATH=. python3 exercises/cgroup_stage.py python3 libns.py
Check it:    sudo python3 exercises/check.py 9
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


if __name__ == "__main__":
    libns.main(clone_flags, child, __doc__)
