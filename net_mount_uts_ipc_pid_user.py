"""net_mount_uts_ipc_pid_user.py: the child gets user and group ids of its own.

No C twin: the tutorial stops one stage earlier.  This is its ladder taken
one rung further.

CLONE_NEWUSER starts a new user namespace.  Its ids are a map onto the ids
outside: the parent writes "0 UID 1" to /proc/PID/uid_map (and the same for
groups), so that the caller's own uid is root inside.  Root inside has every
capability, but only over what the new namespace owns: the network, mount,
UTS, IPC and PID namespaces created with it in the same clone().  That is
why an ordinary user may create them all this way, and why a file owned by
real root stays out of reach: root inside is still you outside.

Run as root, this stage maps root to root; run as anyone else, every other
namespace stage already adds a user namespace like this one, as
`unshare --map-root-user` does.

Try:    python3 net_mount_uts_ipc_pid_user.py sh -c 'cat /proc/self/uid_map; id'
        (as an ordinary user, and as root)
You see: "0 UID 1" and uid=0(root), whoever you are outside.
"""
import libns

clone_flags = (
    libns.CLONE_NEWUSER |
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
    child_stack = libns.map_stack()
    pid = libns.clone(child_exec, child_stack, clone_flags, argv)  # + what C lacks: see libns
    status = libns.waitpid(pid)  # + passes signals on, as docker run: see libns.waitpid
    libns.exit(status)  # the command's status, or die by its signal
