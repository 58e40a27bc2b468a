# syntax=docker/dockerfile:1
# Baseline's production image: `docker build -t baseline .` then see docs/operations.md.

# --- build: wheels for every dependency, then Baseline's own wheel, installed into a venv ---
FROM python:3.11-slim-bookworm AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
RUN python -m venv /opt/venv

# Dependencies first, from pyproject.toml alone: this layer is rebuilt only when they change.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > requirements.txt \
    && pip wheel --wheel-dir /wheels -r requirements.txt \
    && /opt/venv/bin/pip install --no-index --find-links /wheels -r requirements.txt

# Then the code: a change here rebuilds only this small layer.
COPY README.md ./
COPY bot ./bot
COPY nudges ./nudges
COPY config ./config
RUN pip wheel --no-deps --wheel-dir /wheels/own . \
    && /opt/venv/bin/pip install --no-index --no-deps /wheels/own/*.whl

# --- run: the venv and nothing else, as a user without privileges ---
FROM python:3.11-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH \
    PORT=3000

RUN groupadd --system --gid 10001 baseline \
    && useradd --system --uid 10001 --gid baseline --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin baseline

COPY --from=builder /opt/venv /opt/venv

# Numeric, so a runtime that checks "runAsNonRoot" can tell without reading /etc/passwd.
USER 10001:10001

EXPOSE 3000

# HTTP mode: alive when GET /healthz on $PORT answers 200 (the image has no curl). In Socket
# Mode (SLACK_APP_TOKEN set) there is no HTTP server, so only the running process counts.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; os.environ.get('SLACK_APP_TOKEN') or urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '3000'), timeout=4)"]

ENTRYPOINT ["baseline"]
CMD ["run"]
