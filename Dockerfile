# syntax=docker/dockerfile:1

# --- build: install the dependencies into a virtual environment -----------------------------------
# Anything that building needs (pip, wheel builds) stays in this stage.
FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
# Installing the project pulls its pinned-by-pyproject dependencies; the project itself is then
# removed again because the final image runs it from /app, beside migrations/ and alembic.ini,
# which the migration runner finds relative to the code. The venv gets no pip of its own.
RUN python -m venv --without-pip /opt/venv \
 && pip --python /opt/venv/bin/python install --no-cache-dir . \
 && pip --python /opt/venv/bin/python uninstall --yes facecheck-gateway

# --- final: the runtime only, as a non-root user --------------------------------------------------
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    DATA_DIR=/data \
    PORT=8000 \
    WORKERS=1
# No installer at run time: the image runs code, it does not fetch any.
RUN python -m pip uninstall --yes --quiet pip setuptools wheel \
 && groupadd --system --gid 10001 gateway \
 && useradd --system --uid 10001 --gid 10001 --home-dir /app --shell /usr/sbin/nologin gateway \
 && mkdir -p /data \
 && chown 10001:10001 /data
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY alembic.ini ./
COPY migrations ./migrations
COPY app ./app
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ['PORT'], timeout=2)"]
# `serve` applies pending migrations first (one replica at a time, under a database lock), then
# starts uvicorn with WORKERS worker processes (more than one needs REDIS_URL and a real upstream).
CMD ["sh", "-c", "exec python -m app.cli serve --host 0.0.0.0 --port \"$PORT\" --workers \"$WORKERS\""]
