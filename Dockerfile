# The llmwatch worker image (used by docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 HF_HUB_OFFLINE=1
WORKDIR /app
# PyTorch from PyPI is the CUDA build (~4 GB, runs on CPU too). For a smaller CPU-only image,
# install torch from PyTorch's CPU wheel index here first.
COPY pyproject.toml README.md ./
COPY llmwatch ./llmwatch
COPY schemas ./schemas
COPY streams ./streams
COPY detectors ./detectors
COPY alerts ./alerts
RUN pip install ".[server]"
RUN useradd --create-home llmwatch && mkdir /data && chown llmwatch /data
USER llmwatch
ENV LLMWATCH_WORKER__DATA_DIR=/data
CMD ["llmwatch", "worker"]
