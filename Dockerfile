# okrate's services in one image: `okrate ingest`, `okrate streams`, `okrate notifier`.
# The broker runs from the official apache/kafka image (see docker-compose.kafka.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
RUN useradd --create-home --uid 10001 okrate
WORKDIR /app

COPY pyproject.toml README.md ./
COPY okrate okrate
COPY base base
COPY ingest ingest
COPY streams streams
COPY notifier notifier
COPY schemas schemas
COPY sandbox sandbox
COPY bench bench
RUN pip install ".[rocksdb]"

USER okrate
# The streams worker's tables (rocksdb) live here: mount a volume to keep them across restarts.
ENV STREAMS_DATA_DIR=/var/lib/okrate/streams
VOLUME ["/var/lib/okrate"]
EXPOSE 8080 6066
ENTRYPOINT ["okrate"]
CMD ["--help"]
