# One image for every Ketnoi service (gateway, matcher, recorder); the command picks the role.
FROM python:3.11-slim AS base
WORKDIR /app
ENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY pyproject.toml README.md ./
COPY ketnoi ketnoi
COPY schemas schemas
COPY services services
COPY connectors connectors
COPY infra infra

# The matching engine compiled by mypyc (needs a C compiler, which the final image does without).
FROM base AS engine
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
RUN pip install --no-cache-dir '.[native]' && KETNOI_NATIVE_DIR=/app/native ketnoi engine build

FROM base
RUN pip install --no-cache-dir . && useradd --system --uid 10001 ketnoi \
    && mkdir -p /var/lib/ketnoi && chown ketnoi /var/lib/ketnoi
COPY --from=engine /app/native /app/native
# The build is used only if made from the installed sources; "compiled" refuses to start otherwise.
# KETNOI_HOME: the services' writable folder (Faust's data folders), owned by the service user.
ENV KETNOI_NATIVE_DIR=/app/native KETNOI_ENGINE=compiled KETNOI_HOME=/var/lib/ketnoi
USER ketnoi
ENTRYPOINT ["ketnoi"]
CMD ["--help"]
