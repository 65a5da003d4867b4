# The tutorial's environment: build with
#   docker build -t local/docker-syscalls .
# and enter it with
#   docker run -it --privileged --net host local/docker-syscalls
# --privileged lifts Docker's seccomp profile and capability limits, which
# refuse clone() with CLONE_NEW* flags; --net host lets `ip addr` show the
# host's interfaces, so the net stage has something to hide.
FROM python:3.12-slim-bookworm

# The tools the tutorial runs inside the stages, and gcc for its C programs.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        iproute2 procps util-linux mount hostname gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /containers
COPY . .
# The tutorial's programs, built once; `gcc -o out net.c` in c/ works as well.
RUN cd c && for program in *.c; do gcc -Wall -Wextra -o "${program%.c}" "$program"; done
# libns compiled once: with PYTHONDONTWRITEBYTECODE set, as in many images,
# Python would compile it again at every start of a stage (7 ms).
RUN python3 -m compileall -q /containers

CMD ["/bin/bash"]
