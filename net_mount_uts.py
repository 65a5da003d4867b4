"""net_mount_uts.py: the child gets a hostname of its own.

The C twin: c/net_mount_utc.c

CLONE_NEWUTS gives the child its own hostname and NIS domain name (UTS is
the "UNIX Time-sharing System" structure that uname(2) fills in).  The
child can then call sethostname() without touching the host's name.

Try:    python3 net_mount_uts.py hostname    (then plain `hostname`)
You see: custom_hostname inside; the host keeps its own name.
"""
import libns

clone_flags = (
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
