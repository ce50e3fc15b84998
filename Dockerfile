# Spyglass all-in-one image: `docker run -p 9700:9700 -p 4317:4317 -p 4318:4318 spyglass`
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY spyglass ./spyglass
COPY collector ./collector
COPY agent ./agent
COPY alerting ./alerting
COPY dashboards ./dashboards
COPY storage ./storage
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim-bookworm
COPY --from=build /install /usr/local
RUN useradd --system --uid 65534 --home /data spyglass 2>/dev/null || true \
 && mkdir -p /data && chown 65534 /data
USER 65534
VOLUME /data
EXPOSE 9700 4317 4318
ENTRYPOINT ["spyglass"]
CMD ["up", "--data-dir", "/data", "--http", "0.0.0.0:9700", "--otlp-grpc", "0.0.0.0:4317", "--otlp-http", "0.0.0.0:4318"]
