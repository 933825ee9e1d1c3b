# lobbyd in a container, for running a shard wherever a container runtime
# is, and for developers on macOS and Windows (lobbyd needs Linux: epoll).
#
# The image holds the static binary and nothing else, so it builds without
# pulling a base image. Build the binary first, on any OS (on an Apple
# silicon Mac this makes a linux/arm64 binary, which is what its container
# VM runs):
#
#   CGO_ENABLED=0 GOOS=linux go build -trimpath -o lobbyd ./cmd/lobbyd
#   podman build -t lobbyd .          # or: docker build -t lobbyd .
#   podman run --rm -p 127.0.0.1:8080:8080 lobbyd
#
# With no JWT secret or key lobbyd is a dev server (guest tokens), so the
# port is published on the host's loopback only. For a real shard give it
# its settings in the environment: -e LOBBY_JWT_SECRET=... -e
# LOBBY_OPERATOR_TOKEN=... (docs/protocol.md §6).
FROM scratch
COPY lobbyd /lobbyd
# nobody:nogroup; the server needs no privilege and writes no files.
USER 65534:65534
EXPOSE 8080
ENTRYPOINT ["/lobbyd"]
# Inside a container 127.0.0.1 is the container's own loopback: listen on
# every interface of the container and let the port mapping decide.
CMD ["--addr", ":8080"]
