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
# Memory, sized for the chart's 512 MiB limit (bench/HA.md: RSS at 100k findings, measured with
# -XX:NativeMemoryTracking; docs/high-availability.md explains each flag). The chart sets the same two
# variables (values.yaml jvm.*; chart-tests check they are identical to these):
# - heap: 40 % of the limit, serial collector (one or two cores per replica), given back after a full
#   collection (MinHeapFreeRatio/MaxHeapFreeRatio: the heap is what grows during a first reconcile);
# - metaspace and code cache capped, 512k thread stacks;
# - Netty (the HTTP server and the Kubernetes client): two arenas of each kind with 1 MiB chunks
#   instead of one per core with 4 MiB chunks; the JDK's per-thread cache of temporary direct buffers
#   bounded;
# - MALLOC_ARENA_MAX=2: glibc gives each thread that mallocs an arena of its own otherwise (up to 8 per
#   core), whose fragments count in the RSS;
# - TrimNativeHeapInterval=5000: every 5 s the JVM asks glibc to give back the malloc memory freed since
#   (the JIT's arenas, the HTTP client's buffers), which glibc keeps otherwise: 30-50 MiB of the RSS at
#   100k findings. Experimental in JDK 17.0.9+ and 21.0.1+ (hence the unlock), a product flag from 22;
# /tmp is where sqlite-jdbc unpacks its native library.
ENV JAVA_TOOL_OPTIONS="-XX:MaxRAMPercentage=40 -XX:MinHeapFreeRatio=10 -XX:MaxHeapFreeRatio=30 -XX:+UseSerialGC -XX:MaxMetaspaceSize=128m -XX:ReservedCodeCacheSize=64m -Xss512k -XX:+ExitOnOutOfMemoryError -XX:+UnlockExperimentalVMOptions -XX:TrimNativeHeapInterval=5000 -Dio.netty.allocator.numDirectArenas=2 -Dio.netty.allocator.numHeapArenas=2 -Dio.netty.allocator.maxOrder=7 -Djdk.nio.maxCachedBufferSize=262144 -Djava.io.tmpdir=/tmp" \
    MALLOC_ARENA_MAX=2 \
    SQLITE_PATH=/data/zen-watcher.db
# No LOG_FORMAT: JSON lines in a pod (KUBERNETES_SERVICE_HOST is set there), text for a person running
# the image elsewhere or with a terminal (docker run -it); set LOG_FORMAT to choose.
USER 1001:1001
EXPOSE 8080
VOLUME ["/tmp", "/data"]
STOPSIGNAL SIGTERM
# Exec form: java is PID 1 and receives SIGTERM directly (graceful shutdown, Lease release).
ENTRYPOINT ["java", "-jar", "/app/zen-watcher.jar"]
