package io.kubezen.watcher.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Starts the built jar as a process on a free loopback port and talks to it over HTTP (used by e2e
 * and ops tests).
 */
public final class JarRunner {
  public record Running(Process process, int port, Path log) {}

  static final String JAR = System.getProperty("zenwatcher.jar", "target/zen-watcher.jar");
  final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

  public Running start(Path dir, Map<String, String> env) throws Exception {
    return start(dir, env, List.of());
  }

  /**
   * The same, with JVM options after {@code -Xmx256m} (e.g. a smaller footprint for several
   * processes).
   */
  Running start(Path dir, Map<String, String> env, List<String> jvmOptions) throws Exception {
    return start(dir, env, jvmOptions, true);
  }

  /**
   * The same; without {@code -Xmx256m} when {@code defaultHeap} is false (the options size the
   * JVM).
   */
  Running start(Path dir, Map<String, String> env, List<String> jvmOptions, boolean defaultHeap)
      throws Exception {
    int port = freePort();
    Path log = Files.createTempFile(dir, "zw", ".log");
    List<String> cmd =
        new java.util.ArrayList<>(
            defaultHeap ? List.of(javaBin(), "-Xmx256m") : List.of(javaBin()));
    cmd.addAll(jvmOptions);
    cmd.addAll(List.of("-jar", JAR));
    return start(cmd, port, log, env);
  }

  /**
   * Runs {@code cmd} (the jar, or a wrapper of it) with the harness's environment: a port,
   * loopback, a database under {@code dir}, JSON logs (the tests read them; the outside-a-cluster
   * default is text, see LogFormatJarIT), then {@code env}, where a null value removes the
   * variable.
   */
  Running start(List<String> cmd, int port, Path log, Map<String, String> env) throws Exception {
    Path dir = log.getParent();
    ProcessBuilder pb =
        new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
    pb.environment().put("LOG_FORMAT", "json");
    pb.environment().put("WATCHER_PORT", Integer.toString(port));
    pb.environment().put("WATCHER_BIND_ADDRESS", "127.0.0.1");
    pb.environment().put("SQLITE_PATH", dir.resolve("data/zw.db").toString());
    pb.environment().put("DEDUP_FLUSH_INTERVAL_MILLIS", "200");
    env.forEach(
        (k, v) -> {
          if (v == null) {
            pb.environment().remove(k);
          } else {
            pb.environment().put(k, v);
          }
        });
    return new Running(pb.start(), port, log);
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  /** SIGKILL; returns once the process is gone. */
  static void kill(Running r) throws InterruptedException {
    r.process().destroyForcibly();
    if (!r.process().waitFor(10, TimeUnit.SECONDS)) {
      throw new AssertionError("pid " + r.process().pid() + " survived SIGKILL for 10 s");
    }
  }

  /** SIGTERM; true when the process exited within {@code timeout} (it is SIGKILLed otherwise). */
  static boolean terminate(Running r, Duration timeout) throws InterruptedException {
    r.process().destroy();
    if (r.process().waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
      return true;
    }
    kill(r);
    return false;
  }

  /**
   * The image's JVM flags (the Dockerfile's {@code JAVA_TOOL_OPTIONS}) in a 512 MiB container, the
   * chart's memory limit: a process run with these is sized as a replica in a pod.
   */
  static List<String> chartJvm() {
    try {
      String dockerfile =
          Files.readString(
              io.kubezen.watcher.testing.KubeApiServer.repositoryRoot().resolve("Dockerfile"));
      java.util.regex.Matcher m =
          java.util.regex.Pattern.compile("JAVA_TOOL_OPTIONS=\"([^\"]*)\"").matcher(dockerfile);
      if (!m.find()) {
        throw new IllegalStateException("no JAVA_TOOL_OPTIONS in the Dockerfile");
      }
      List<String> flags = new java.util.ArrayList<>(List.of("-XX:MaxRAM=512m"));
      for (String f : m.group(1).trim().split("\\s+")) {
        if (!f.startsWith("-Djava.io.tmpdir")) {
          flags.add(f);
        }
      }
      return List.copyOf(flags);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  static String javaBin() {
    return Path.of(System.getProperty("java.home"), "bin", "java").toString();
  }

  public HttpResponse<String> call(String method, String url, String body)
      throws IOException, InterruptedException {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10));
    b =
        body == null
            ? b.method(method, HttpRequest.BodyPublishers.noBody())
            : b.header("Content-Type", "application/json")
                .method(method, HttpRequest.BodyPublishers.ofString(body));
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  public long awaitReady(Running r) throws Exception {
    long t0 = System.nanoTime();
    while (System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(30)) {
      assertThat(r.process().isAlive()).as("process died: " + Files.readString(r.log())).isTrue();
      try {
        if (call("GET", "http://127.0.0.1:" + r.port() + "/ready", null).statusCode() == 200) {
          return (System.nanoTime() - t0) / 1_000_000;
        }
      } catch (IOException notYet) {
        // not listening yet
      }
      Thread.sleep(50);
    }
    throw new AssertionError("not ready within 30 s: " + Files.readString(r.log()));
  }

  static String sample(String name) throws IOException {
    try (var in = StandaloneJarIT.class.getResourceAsStream("/http/" + name)) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }
}
