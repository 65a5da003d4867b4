"""Exercise 2: the net stage, with its loopback device brought up.

The child's setup must bring `lo` up before the command runs, so that
`ip link show lo` inside shows UP.  See EXERCISES.md.

Run it:      sudo PYTHONPATH=. python3 exercises/net_lo.py ip link show lo
Check it:    sudo python3 exercises/check.py 2
"""
import libns
import net

clone_flags = net.clone_flags


def child():
    """The net stage's setup, then lo brought up."""
    net.child()
    # Your code here: bring lo up (netdevice(7): SIOCGIFFLAGS, SIOCSIFFLAGS).


if __name__ == "__main__":
    libns.main(clone_flags, child, __doc__)
