"""Exercise 9, a solution: the pid stage plus the cgroup namespace.

CLONE_NEWCGROUP makes the child's current cgroup the root of its view:
/proc/self/cgroup shows "/" where the host sees the full path, and the
cgroup file system mounted inside shows only that subtree.  The setup is
the pid stage's: a cgroup namespace needs none.
"""
import libns
import net_mount_uts_ipc_pid as pid_stage

clone_flags = libns.CLONE_NEWCGROUP | pid_stage.clone_flags
child = pid_stage.child

if __name__ == "__main__":
    libns.main(clone_flags, child, __doc__)
