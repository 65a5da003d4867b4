"""Exercise 7, a solution: the pid stage with an init, out of the PID-1 trap.

The kernel gives PID 1 only the signals it has a handler for.  So PID 1 is
no longer the command but a small init: libns.run() starts the command as
PID 2, takes SIGINT, SIGTERM and the rest with sigwaitinfo and passes them on,
and waits, reaping orphans as PID 1 must.  The command, not being PID 1,
dies of SIGTERM as any process does; the init then exits with 128+N, as PID
1 cannot die of a signal sent to itself.
"""
import os
import sys

import libns
import net_mount_uts_ipc_pid as pid_stage

clone_flags = pid_stage.clone_flags


def child():
    """The pid stage's setup, then the child becomes an init."""
    pid_stage.child()
    # The child has the tool's command line: run its command as PID 2.
    command = libns.parse_options(sys.argv[1:], __doc__) or libns.default_command()
    returncode = libns.run(0, None, command, as_init=True)
    sys.stdout.flush()
    os._exit(128 - returncode if returncode < 0 else returncode)


if __name__ == "__main__":
    libns.main(clone_flags, child, __doc__)
