"""Exercise 9: a stage of your own, with one more namespace.

Below is the pid stage, copied as the tutorial copies each program.  Add the
cgroup namespace: the command's /proc/self/ns/cgroup must differ from the
host's.  See EXERCISES.md.

Run it:      python3 exercises/cgroup_stage.py readlink /proc/self/ns/cgroup
Check it:    python3 exercises/check.py 9
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
    argv = libns.command_line(__doc__)
    child_stack = libns.map_stack()
    pid = libns.clone(child_exec, child_stack, clone_flags, argv)
    status = libns.waitpid(pid)
    libns.exit(status)
