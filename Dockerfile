# closeknit worker image: `docker build -t closeknit .`, or let docker-compose.yml build it.
#
#   docker run --rm closeknit config          # any closeknit command; the default is `worker`
#   docker run --rm -e CLOSEKNIT_BROKER=kafka://broker:9092 closeknit
#
# Only what the package needs is copied, so the build does not depend on .venv or .git.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /opt/closeknit
COPY pyproject.toml README.md ./
COPY service ./service
COPY schemas ./schemas
RUN pip install . \
    && rm -rf build ./*.egg-info \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/closeknit --create-home \
        --shell /usr/sbin/nologin closeknit

# The package reads its JSON Schemas from schemas/ beside the source tree; installed into
# site-packages it is told where they are. The data directory belongs to the closeknit user.
ENV CLOSEKNIT_SCHEMAS_DIR=/opt/closeknit/schemas \
    CLOSEKNIT_DATA_DIR=/var/lib/closeknit

USER closeknit
WORKDIR /var/lib/closeknit
EXPOSE 6066

# /health answers 200 once tables are recovered and the worker serves, 503 before that.
# urllib raises on 503 or a refused connection, so python exits non-zero: no curl needed.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('CLOSEKNIT_WEB_PORT', '6066'), timeout=4)"]

ENTRYPOINT ["closeknit"]
CMD ["worker"]
