# syntax=docker/dockerfile:1
# Build stage: compile wheels with build tools; the final image carries none of them.
FROM python:3.11-slim AS build
WORKDIR /src
RUN pip install --no-cache-dir --upgrade pip==24.3.1
COPY pyproject.toml README.md ./
COPY app ./app
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DATA_DIR=/data WORKERS=1 PORT=8000
RUN useradd --system --uid 10001 --home-dir /app gateway && mkdir -p /data && chown gateway /data
WORKDIR /app
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
COPY alembic.ini ./
COPY migrations ./migrations
COPY app ./app
USER gateway
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --retries=3 \
  CMD ["python", "-c", "import urllib.request,os; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/healthz', timeout=2)"]
# `serve` applies pending migrations (one replica at a time), then starts uvicorn.
CMD ["sh", "-c", "exec facecheck-gateway serve --host 0.0.0.0 --port \"$PORT\" --workers \"$WORKERS\""]
