# pullgate container image: the service on its embedded defaults (SQLite + filesystem under /data).
# Production settings (PostgreSQL, S3, replicas) come through PULLGATE_* variables or a mounted
# config file; see docker-compose.yml and config/pullgate.yaml.
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY proxy ./proxy
COPY db ./db
COPY migrations ./migrations
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim-bookworm
RUN useradd --system --uid 10001 --home-dir /data pullgate && mkdir -p /data /etc/pullgate \
    && chown pullgate /data
COPY --from=build /install /usr/local
COPY config/pullgate.yaml /etc/pullgate/pullgate.yaml
ENV PULLGATE_CONFIG=/etc/pullgate/pullgate.yaml \
    PULLGATE_LISTEN=0.0.0.0:5000 \
    PULLGATE_STORAGE__PATH=/data/blobs \
    PULLGATE_DATABASE__URL=sqlite+aiosqlite:////data/pullgate.db
USER pullgate
WORKDIR /data
VOLUME ["/data"]
EXPOSE 5000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:5000/readyz').status != 200)"
ENTRYPOINT ["pullgate"]
CMD ["serve"]
