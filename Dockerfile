# A small image running `launchseq serve` as a non-root user.
#   docker build -t launchsequence .
#   docker run -p 8080:8080 -v launchseq-data:/data launchsequence
# It serves from one worker process per CPU the container may use: `--cpus=2` gives 2 workers
# whatever the host's cores. One process: `docker run -e LAUNCHSEQ_WORKERS=1 ...`.
FROM python:3.11-slim AS build
WORKDIR /src
COPY constraints.txt pyproject.toml README.md ./
COPY engine ./engine
COPY src ./src
RUN python -m venv /opt/launchsequence \
 && /opt/launchsequence/bin/pip install --no-cache-dir --disable-pip-version-check \
      -c constraints.txt ./engine .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /data launchseq \
 && mkdir /data && chown launchseq /data
COPY --from=build /opt/launchsequence /opt/launchsequence
ENV PATH=/opt/launchsequence/bin:$PATH \
    LAUNCHSEQ_DATA_DIR=/data \
    LAUNCHSEQ_HOST=0.0.0.0 \
    LAUNCHSEQ_PORT=8080 \
    PYTHONDONTWRITEBYTECODE=1
USER launchseq
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
# /healthz, not /readyz: a database outage is not cured by restarting the process.
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz').status != 200)"
CMD ["launchseq", "serve"]
