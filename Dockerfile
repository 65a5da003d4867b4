# The tutorial's environment: build with
#   docker build -t local/docker-syscalls .
# and enter it with
#   docker run -it --privileged --net host local/docker-syscalls
# --privileged lifts Docker's seccomp profile and capability limits, which
# refuse clone() with CLONE_NEW* flags; --net host lets `ip addr` show the
# host's interfaces, so the net stage has something to hide.
#
# BASE: any Debian bookworm image with Python 3.8 or newer.  The tests, with
# no registry to pull from, pass one made by mmdebstrap (tests/test_docker.py).
ARG BASE=python:3.12-slim-bookworm
FROM ${BASE}

# The tools the tutorial runs inside the stages, gcc for its C programs,
# and strace, which the tests compare the -v trace with.  Not pinned (DL3008):
# any bookworm release of these tools does, and pins would break at its next update.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        iproute2 procps util-linux mount hostname gcc libc6-dev strace \
    && rm -rf /var/lib/apt/lists/*
# pytest, so that the tests run inside too.  --break-system-packages: on a
# base whose python3 is Debian's, pip refuses to install otherwise (PEP 668);
# the image is the system, and pytest is all it adds.
RUN python3 -m pip install --no-cache-dir --break-system-packages pytest==9.2.0

WORKDIR /containers
COPY . .
# The tutorial's programs, built once; `gcc -o out net.c` in c/ works as well.
WORKDIR /containers/c
RUN for program in *.c; do gcc -Wall -Wextra -o "${program%.c}" "$program"; done
WORKDIR /containers
# libns and the scripts beside it compiled once (-l: not tests/, which holds
# a student's syntax error on purpose): with PYTHONDONTWRITEBYTECODE set, as
# in many images, Python would compile libns at every start of a stage (7 ms).
RUN python3 -m compileall -q -l /containers

CMD ["/bin/bash"]
