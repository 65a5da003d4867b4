"""Exercise 6: the pid stage without its fresh /proc.

Below is the pid stage, by reference.  Change it so that the child does
everything the pid stage's does but mount a fresh proc, then see what `ps`
shows.  See EXERCISES.md.

Run it:      sudo PYTHONPATH=. python3 exercises/pid_no_proc.py sh -c 'echo $$; ps -e | wc -l'
Check it:    sudo python3 exercises/check.py 6
"""
import libns
import net_mount_uts_ipc_pid as pid_stage

clone_flags = pid_stage.clone_flags
child = pid_stage.child

if __name__ == "__main__":
    libns.main(clone_flags, child, __doc__)
