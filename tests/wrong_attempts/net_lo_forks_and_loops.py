"""net_lo_forks_and_loops.py: a wrong attempt check.py must explain.

Its children, which no PID namespace holds, outlive it unless check.py ends them.
Below is the net stage, copied.  The child must bring `lo` up before the
command runs, so that `ip link show lo` inside shows UP.  See EXERCISES.md.

Run it:      python3 exercises/net_lo.py ip link show lo
Check it:    python3 exercises/check.py 2
"""
import os

import libns

clone_flags = (
    libns.CLONE_NEWNET |
    libns.SIGCHLD
)


def child_exec(argv):
    """The child, after clone(): lo brought up, then it becomes the command."""
    for _ in range(3):
        if os.fork() == 0:
            os.execvp("sleep", ["sleep", "12345.678"])
    while True:
        pass
    libns.execvp(argv)


if __name__ == "__main__":
    argv = libns.command_line(__doc__)
    child_stack = libns.map_stack()
    pid = libns.clone(child_exec, child_stack, clone_flags, argv)
    status = libns.waitpid(pid)
    libns.exit(status)
