# The same bot as `make run`, as a non-root user, with the database on a volume.
#   docker build -t telegram-llm-bot .
#   docker run -d --env-file .env -v bot-data:/data --restart unless-stopped telegram-llm-bot
# or, with compose.yaml:  docker compose up -d
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PTB_TIMEDELTA=true \
    DATABASE_PATH=/data/bot.sqlite3

WORKDIR /app
COPY pyproject.toml README.md LICENSE ./
COPY bot ./bot
COPY providers ./providers
# /app/data -> /data: the .env.example value DATABASE_PATH=data/bot.sqlite3 (relative to /app)
# lands on the volume too, so `--env-file .env` works as written.
RUN pip install --no-compile . \
    && useradd --create-home --uid 10001 bot \
    && mkdir -p /data \
    && chown bot:bot /data \
    && ln -s /data /app/data

USER bot
VOLUME ["/data"]
# Healthy while getUpdates long polls keep completing (bot/app/health.py: a heartbeat file in /tmp).
HEALTHCHECK --interval=60s --timeout=10s --start-period=60s --retries=2 CMD ["python", "-m", "bot", "--health"]
# `docker stop` sends SIGTERM: replies being written get SHUTDOWN_GRACE seconds, then the bot exits 0.
STOPSIGNAL SIGTERM
CMD ["python", "-m", "bot", "--hold-on-config-error"]
