# The llmwatch worker image (used by docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 HF_HUB_OFFLINE=1
WORKDIR /app
# The server install carries no PyTorch: the models ship prebuilt in detectors/data/.
COPY pyproject.toml README.md ./
COPY llmwatch ./llmwatch
COPY schemas ./schemas
COPY streams ./streams
COPY detectors ./detectors
COPY alerts ./alerts
RUN pip install ".[server]" && llmwatch embedding check
# /data (faust's scratch space) and /reports belong to the user the worker runs as; a named
# volume mounted on /reports starts with this ownership, so reports can be written.
RUN useradd --create-home llmwatch && mkdir /data /reports \
    && chown llmwatch /data /reports
USER llmwatch
ENV LLMWATCH_WORKER__DATA_DIR=/data
CMD ["llmwatch", "worker"]
