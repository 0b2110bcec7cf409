# syntax=docker/dockerfile:1
# Build: docker build -t camera-center .
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY requirements.in requirements-export.in constraints.txt pyproject.toml README.md LICENSE ./
# The runtime's venv: no PyTorch, no ultralytics (trackers --no-deps: it asks for the GUI
# build of OpenCV).
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install -c constraints.txt -r requirements.in \
 && /opt/venv/bin/pip install --no-deps -c constraints.txt trackers
COPY camera_center ./camera_center
COPY ingest ./ingest
COPY detectors ./detectors
COPY web ./web
COPY camera_sim ./camera_sim
RUN /opt/venv/bin/pip install --no-deps .
# Real weights for the object detector (the build has internet; the server never downloads).
# Pinned by checksum: a changed or substituted file fails the build instead of being run.
ADD --chmod=0644 --checksum=sha256:0ebbc80d4a7680d14987a577cd21342b65ecfd94632bd9a8da63ae6417644ee1 \
    https://github.com/ultralytics/assets/releases/download/v8.3.0/yolo11n.pt /opt/models/yolo11n.pt
# Exported here, with PyTorch in a venv of its own that the runtime stage leaves behind:
# writes /opt/models/yolo11n-320.onnx and its OpenVINO IR, and checks both.
RUN cp -a /opt/venv /opt/export \
 && /opt/export/bin/pip install -c constraints.txt -r requirements-export.in \
 && /opt/export/bin/pip install --no-deps -c constraints.txt ultralytics \
 && /opt/export/bin/pip install --no-deps . \
 && YOLO_OFFLINE=1 YOLO_CONFIG_DIR=/tmp/ultralytics \
    /opt/export/bin/camera-center models export /opt/models/yolo11n.pt --imgsz 320 \
 && rm /opt/models/yolo11n.pt

FROM python:3.11-slim-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg libglib2.0-0 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --create-home --uid 10001 camera \
 && mkdir -p /data && chown camera /data
COPY --from=build /opt/venv /opt/venv
COPY --from=build /opt/models /opt/models
COPY config /app/config
WORKDIR /app
ENV PATH=/opt/venv/bin:$PATH \
    CAMERA_CENTER_DATA_DIR=/data \
    CAMERA_CENTER_SERVER__HOST=0.0.0.0 \
    CAMERA_CENTER_DETECTOR__MODEL=/opt/models/yolo11n-320.onnx
USER camera
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"]
ENTRYPOINT ["camera-center"]
CMD ["serve"]
