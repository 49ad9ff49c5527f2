# pullgate container image.
#   docker build -t pullgate .
#   docker run -p 5000:5000 pullgate                                   # embedded defaults: SQLite + files
#   docker run --rm -e PULLGATE_DATABASE__URL=... pullgate migrate --config /etc/pullgate/pullgate.yaml
# Production settings (PostgreSQL, S3, replicas) come from a mounted /etc/pullgate/pullgate.yaml
# and PULLGATE_* variables: see docker-compose.yml and deploy/kubernetes/.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# -- build: compilers are here only, for any dependency without a wheel for this platform ------
FROM ${PYTHON_IMAGE} AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# A virtual environment at the same path in both stages: the runtime stage copies it whole,
# and its interpreter link (/usr/local/bin/python3.11) exists in the same base image there.
RUN python -m venv /opt/pullgate
WORKDIR /src
# Metadata first, so a code-only change reuses the dependency layer.
COPY pyproject.toml README.md ./
COPY proxy ./proxy
COPY db ./db
COPY migrations ./migrations
RUN /opt/pullgate/bin/pip install . \
    && /opt/pullgate/bin/pullgate --help >/dev/null

# -- runtime: the interpreter, the venv and the default config; no compilers, no build tree ----
FROM ${PYTHON_IMAGE}
# A fixed numeric uid/gid: Kubernetes' runAsNonRoot can only verify a numeric USER.
RUN groupadd --system --gid 10001 pullgate \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/pullgate \
       --shell /usr/sbin/nologin pullgate \
    && mkdir -p /etc/pullgate /var/lib/pullgate \
    && chown 10001:10001 /var/lib/pullgate
COPY --from=build /opt/pullgate /opt/pullgate
COPY config/pullgate.yaml /etc/pullgate/pullgate.yaml
# PULLGATE_LISTEN overrides the file's loopback address so the port is reachable from outside.
# Storage and database stay the file's relative defaults (./data/...), resolved against the
# working directory below, so a mounted config choosing S3 or PostgreSQL meets no stray override.
ENV PATH=/opt/pullgate/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PULLGATE_CONFIG=/etc/pullgate/pullgate.yaml \
    PULLGATE_LISTEN=0.0.0.0:5000
USER 10001:10001
WORKDIR /var/lib/pullgate
VOLUME ["/etc/pullgate", "/var/lib/pullgate"]
EXPOSE 5000
# Liveness (/healthz), not readiness: /readyz also fails while the database is away, and an
# orchestrator acting on "unhealthy" would replace a process that is fine. Python, because the
# slim image has no curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:5000/healthz', timeout=4).status != 200)"]
ENTRYPOINT ["pullgate"]
CMD ["serve", "--config", "/etc/pullgate/pullgate.yaml"]
