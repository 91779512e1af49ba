# The service image (CPU). One image runs every process of the production stack:
#   vad db upgrade | vad dispatcher | vad ingest | vad worker --name N | vad api
# Build:  docker build -t vad-service .          GPU variant: Dockerfile.gpu
#
# Only the runtime dependencies are installed (`pip install .`): no `embedded` extra, because in
# production PostgreSQL, Kafka and Redis are separate services (see compose.yaml).

FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# OpenCV (headless) still needs glib; libgomp serves scikit-learn / ONNX Runtime threads.
# Distribution packages follow the base image; pinning them would break on its next rebuild.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libglib2.0-0 libgomp1 \
    && rm -rf /var/lib/apt/lists/*

# Non-root user. The uid is fixed (same in Dockerfile.gpu) so both images share the `models` volume.
RUN groupadd --system --gid 10001 vad \
    && useradd --system --uid 10001 --gid vad --home-dir /app --shell /usr/sbin/nologin vad \
    && mkdir -p /app /models /var/lib/vad /secrets \
    && chown vad:vad /models /var/lib/vad && chmod 700 /secrets && chown vad:vad /secrets

WORKDIR /app

# Copy only what the package needs (no .venv, var/, .git even without a .dockerignore).
# README* is optional: pyproject names README.md, the wildcard keeps the build working without it.
COPY pyproject.toml README* ./
COPY vad ./vad
COPY frames ./frames
COPY webhooks ./webhooks
COPY ingest ./ingest
COPY feedback ./feedback
COPY workers ./workers
COPY db ./db
COPY service ./service
COPY api ./api
COPY demo ./demo
COPY alembic ./alembic
COPY alembic.ini ./

RUN pip install . && vad --help > /dev/null

# db/session.py finds the migrations at <parent of the db package>/alembic. Installed into
# site-packages that would be the alembic *library*, so the source tree in /app comes first on the
# path: the `db` package (and the migrations next to it) are imported from /app. The alembic
# library still wins for `import alembic` (a regular package beats a folder without __init__.py).
ENV PYTHONPATH=/app \
    VAD_MODEL_DIR=/models \
    VAD_DATA_DIR=/var/lib/vad

USER 10001:10001

VOLUME ["/models"]

ENTRYPOINT ["vad"]
CMD ["--help"]
