"""base.py: run a command in a child made by clone(2).

The C twin: c/base.c

The child is an ordinary process: clone() with only SIGCHLD in its flags
works like fork(), except that the child starts in a function of our choice
on a stack of its own.  It shares every namespace with you, so it sees what
you see.  Each later stage adds one CLONE_NEW* flag to the same program.

Try:    python3 base.py ls -la
        python3 base.py ip addr         (the same as plain `ip addr`)
        python3 base.py hostname        (the same as plain `hostname`)
You see: exactly what the command shows without us; we exit with its status.
"""
import libns

clone_flags = (
    libns.SIGCHLD
)


def child_exec(argv):
    """The child, after clone(): its setup, then it becomes the command."""
    libns.execvp(argv)


if __name__ == "__main__":
    argv = libns.command_line(__doc__)  # -h, -v, --; from here errors exit as docker run's
    child_stack = libns.map_stack()
    pid = libns.clone(child_exec, child_stack, clone_flags, argv)  # + what C lacks: see libns
    status = libns.waitpid(pid)  # + passes signals on, as docker run: see libns.waitpid
    libns.exit(status)  # the command's status, or die by its signal
