"""runtime: a spec shaped like the OCI config.json in, a running container out.

Docker's own split, made visible: `docker run` turns its options into a
config.json (the OCI runtime spec), and runc turns that spec into syscalls.
Here container.py is `docker run` (see container.build_spec, and --spec to
print one), and this package is runc: steps.py turns the spec into a
container, run() the parent's part and create() the child's, a short list
of named steps, each in the room of its concern:

  rootfs.py       the root, its mounts and /dev, pivot_root
  confinement.py  capabilities, no_new_privs, masked paths, seccomp
  seccomp.py      Docker's profile, compiled to the kernel's BPF
  cgroups.py      the limits: a cgroup of the container's own, v1 or v2
  network.py      the veth pair of --net veth
  terminal.py     a terminal of the container's own (-t)
  init.py         PID 1, the clocks, the command's user

The spec is plain data (dicts, lists, strings), and reads as config.json
does: process (args, env, cwd, user, terminal, capabilities,
noNewPrivileges), root, hostname, mounts, linux (namespaces, uidMappings,
gidMappings, devices, maskedPaths, readonlyPaths, seccomp, resources,
cgroupsPath).  Three fields say more than config.json: `root` may be
layers (what containerd mounts before runc starts) or the host's programs;
`network.veth` is what a network driver sets up around runc; and `files`
(/etc/hosts and its kin) is what dockerd writes beside a container and
binds in.
"""
