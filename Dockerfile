# One image for every Ketnoi service (gateway, matcher, recorder); the command picks the role.
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY pyproject.toml README.md ./
COPY ketnoi ketnoi
COPY schemas schemas
COPY services services
COPY connectors connectors
COPY infra infra
RUN pip install --no-cache-dir . && useradd --system --uid 10001 ketnoi
USER ketnoi
ENTRYPOINT ["ketnoi"]
CMD ["--help"]
