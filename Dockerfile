# syntax=docker/dockerfile:1
# zen-watcher container image.
#   docker build -t zen-watcher:0.1.0 .
# Build: the Maven Wrapper on a Maven + JDK 17 image (the wrapper needs a `mvn` on PATH the first
# time, to fetch the pinned Maven). Run: a JRE 21 image, non-root user 1001, read-only root file
# system friendly (the only writable paths it needs are /tmp and, in standalone SQLite mode, the
# directory of SQLITE_PATH: mount volumes there).

FROM maven:3.9-eclipse-temurin-17 AS build
WORKDIR /src
COPY mvnw pom.xml ./
COPY .mvn/ .mvn/
# The reactor reads every module's pom; bench and chart-tests are not built.
COPY bench/pom.xml bench/
COPY chart-tests/pom.xml chart-tests/
COPY api/ api/
COPY watcher/ watcher/
COPY charts/zen-watcher/crds/ charts/zen-watcher/crds/
# The cache mount keeps ~/.m2 (the wrapper's Maven and the dependencies) between builds.
RUN --mount=type=cache,target=/root/.m2 \
    ./mvnw -B -q -pl watcher -am package -DskipTests \
 && cp watcher/target/zen-watcher.jar /zen-watcher.jar

FROM eclipse-temurin:21-jre
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="zen-watcher" \
      org.opencontainers.image.description="Kubernetes aggregator of security findings into Observation resources" \
      org.opencontainers.image.version="${VERSION}"
# A fixed numeric user (the chart runs as 1001 with runAsNonRoot); no home directory is needed.
RUN groupadd --system --gid 1001 zen \
 && useradd --system --uid 1001 --gid 1001 --no-create-home --shell /usr/sbin/nologin zen \
 && mkdir -p /app /data \
 && chown 1001:1001 /data
WORKDIR /app
COPY --from=build --chown=0:0 /zen-watcher.jar /app/zen-watcher.jar
# Heap follows the container memory limit: half of it, so that heap, metaspace, code cache and thread
# stacks together stay well inside the limit (bench/HA.md measures the RSS at 100k findings in 512 MiB);
# the serial collector suits the one or two cores a replica gets; /tmp is where sqlite-jdbc unpacks
# its native library.
ENV JAVA_TOOL_OPTIONS="-XX:MaxRAMPercentage=50 -XX:+UseSerialGC -XX:MaxMetaspaceSize=128m -XX:ReservedCodeCacheSize=64m -Xss512k -XX:+ExitOnOutOfMemoryError -Djava.io.tmpdir=/tmp" \
    SQLITE_PATH=/data/zen-watcher.db
# No LOG_FORMAT: JSON lines in a pod (KUBERNETES_SERVICE_HOST is set there), text for a person running
# the image elsewhere or with a terminal (docker run -it); set LOG_FORMAT to choose.
USER 1001:1001
EXPOSE 8080
VOLUME ["/tmp", "/data"]
STOPSIGNAL SIGTERM
# Exec form: java is PID 1 and receives SIGTERM directly (graceful shutdown, Lease release).
ENTRYPOINT ["java", "-jar", "/app/zen-watcher.jar"]
