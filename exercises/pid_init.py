"""Exercise 7: the pid stage with an init, out of the PID-1 trap.

Make the child an init that runs the command as PID 2, passes signals on to
it and waits for it, so that Ctrl-C and SIGTERM stop even `sleep`.  See
EXERCISES.md.

Run it:      sudo PYTHONPATH=. python3 exercises/pid_init.py ps -e
Check it:    sudo python3 exercises/check.py 7
"""
import libns
import net_mount_uts_ipc_pid as pid_stage

clone_flags = pid_stage.clone_flags


def child():
    """The pid stage's setup, then the child becomes an init."""
    pid_stage.child()
    # Your code here: run the command as PID 2, wait for it, exit with its status.


if __name__ == "__main__":
    libns.main(clone_flags, child, __doc__)
