# Active Learning Lab: the Streamlit app on CPU. Build and run (see README):
#   docker build -t active-learning-lab .
#   docker run -p 8501:8501 -v al-data:/data active-learning-lab   (password: docker logs)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    TF_CPP_MIN_LOG_LEVEL=3 \
    AL_DATA_DIR=/data \
    KERAS_HOME=/data/keras

RUN useradd --create-home --uid 1000 app \
    && mkdir -p /data \
    && chown app:app /data

WORKDIR /app
COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY app.py asgi.py ./
COPY .streamlit/ .streamlit/
COPY assets/ assets/
COPY al_core/ al_core/
COPY pages/ pages/

USER app
VOLUME ["/data"]
EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4)"

# .streamlit/config.toml listens on 127.0.0.1; inside the container the app must listen
# on every interface for `docker run -p 8501:8501` to reach it, so it asks for a password
# (README, "Opening the app to a network"): `docker run -e AL_PASSWORD=…`, or else the one
# al_core.serve generates and prints once in `docker logs`, with a link that opens the app.
# al_core.serve then execs `streamlit run asgi.py` (app.py behind the lock's HTTP guard).
CMD ["python", "-m", "al_core.serve", "--server.address=0.0.0.0", "--server.port=8501"]
