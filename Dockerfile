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
# the default embedding backend, distilled from the installed MiniLM once, into the image
ENV LLMWATCH_EMBEDDING__CACHE_DIR=/opt/llmwatch/embeddings
RUN llmwatch embedding build
# /data (faust's scratch space) and /reports belong to the user the worker runs as; a named
# volume mounted on /reports starts with this ownership, so reports can be written.
RUN useradd --create-home llmwatch && mkdir /data /reports \
    && chown llmwatch /data /reports
USER llmwatch
ENV LLMWATCH_WORKER__DATA_DIR=/data
CMD ["llmwatch", "worker"]
