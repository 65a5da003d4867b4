"""Exercise 6, a solution: the pid stage without its fresh /proc.

The pid stage's setup without its proc mount is the IPC stage's setup: so,
the IPC stage's child with the pid stage's flags.  The command is PID 1
(`echo $$` says so), yet `ps` lists the host's processes: ps reads /proc,
and the /proc it finds is the host's, which shows the PID namespace of
whoever mounted it.  A PID namespace changes what process ids are; only a
proc mounted from inside shows them.
"""
import libns
import net_mount_uts_ipc as ipc_stage
import net_mount_uts_ipc_pid as pid_stage

clone_flags = pid_stage.clone_flags
child = ipc_stage.child

if __name__ == "__main__":
    libns.main(clone_flags, child, __doc__)
