# The model as an image of its own, so every cloud can deliver it the way it delivers code: from a
# registry, by digest. deployment.yaml's init container copies /model into a pod-local volume.
# Build from the repository's root after `make model` (which writes models/wine-classifier/):
#   docker build -f deploy/kubernetes/model-image.Dockerfile -t registry.example.com/wine-model:VERSION .
# model-image.Dockerfile.dockerignore beside this file replaces the root .dockerignore (which keeps
# models/ out of the service's image) for this build only.
# BusyBox: a few megabytes with a `cp`, which is all the init container runs.
FROM busybox:1.36.1
# The skops artifact and its metadata (with its SHA-256, which the service checks when it loads).
COPY models/wine-classifier/ /model/
# Nothing here runs as root: the pod's securityContext sets the same unprivileged user.
USER 10001:10001
