# The M-Pesa callback relay (relay/), for a host that terminates HTTPS in front of it.
#   docker build -t mpesa-relay .
#   docker run -p 8000:8000 -v relay-data:/data -e RELAY_TRUSTED_PROXIES=172.17.0.1 mpesa-relay
# See docs/deploy.md.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    RELAY_DATA_DIR=/data

WORKDIR /app
COPY pyproject.toml README.md constraints.txt ./
COPY daraja_core ./daraja_core
COPY relay ./relay
# One distribution holds the till and the relay; only the relay's code is copied in (the till's
# `mpesa-till` entry point is left dangling on purpose). The `relay` extra adds only what the relay needs
# (no Qt, keyring or ngrok), at the versions in constraints.txt.
RUN pip install -c constraints.txt ".[relay]" \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin relay \
    && mkdir -p /data && chown relay:relay /data

USER relay
# SQLite lives here unless DATABASE_URL points at PostgreSQL: mount a volume so callbacks survive.
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"]

# Migrates on start (idempotent; an advisory lock on PostgreSQL), then serves.
CMD ["mpesa-relay", "serve", "--host", "0.0.0.0", "--port", "8000"]
