"""Exercise 9: a stage of your own, with one more namespace.

Add the cgroup namespace to the pid stage: the command's
/proc/self/ns/cgroup must differ from the host's.  See EXERCISES.md.

Run it:      sudo PYTHONPATH=. python3 exercises/cgroup_stage.py readlink /proc/self/ns/cgroup
Check it:    sudo python3 exercises/check.py 9
"""
import libns
import net_mount_uts_ipc_pid as pid_stage

clone_flags = pid_stage.clone_flags  # one more namespace here
child = pid_stage.child

if __name__ == "__main__":
    libns.main(clone_flags, child, __doc__)
