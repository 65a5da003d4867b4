"""Exercise 13: the pid stage, in a cgroup of its own with pids.max 20.

Below is the pid stage, copied.  Make a cgroup below your own in the pids
controller's tree, write 20 to its pids.max, and put the child in it
before it runs a line: libns.clone() takes prepare=, a function of the
child's pid that the parent calls while the child waits.  Remove the
cgroup when the tool leaves (libns.at_exit).  Needs root.  See EXERCISES.md.

Run it:      sudo python3 exercises/pids_limit.py cat /proc/self/cgroup
Check it:    sudo python3 exercises/check.py 13
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
    # Your code here: the cgroup, its pids.max, and prepare= below.
    child_stack = libns.map_stack()
    pid = libns.clone(child_exec, child_stack, clone_flags, argv)  # + what C lacks: see libns
    status = libns.waitpid(pid)  # + passes signals on, as docker run: see libns.waitpid
    libns.exit(status)  # the command's status, or die by its signal
