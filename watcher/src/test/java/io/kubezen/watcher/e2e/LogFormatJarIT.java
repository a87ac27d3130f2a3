package io.kubezen.watcher.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.kubezen.watcher.e2e.JarRunner.Running;
import io.kubezen.watcher.model.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The log format the built jar picks, as a process: text outside a cluster and on a terminal, JSON
 * lines in a pod (KUBERNETES_SERVICE_HOST set, output not a terminal), LOG_FORMAT overriding both.
 * The terminal case runs the jar under {@code script} (util-linux), which gives it a
 * pseudo-terminal.
 */
class LogFormatJarIT {
  /** The text layout of logback.xml: {@code HH:mm:ss.SSS LEVEL [thread] logger message}. */
  static final Pattern TEXT_LINE =
      Pattern.compile("^\\d{2}:\\d{2}:\\d{2}\\.\\d{3} (TRACE|DEBUG|INFO |WARN |ERROR) \\[.+");

  final JarRunner jar = new JarRunner();
  @TempDir Path dir;

  /** The harness's variables, without the ones that choose the format unless given. */
  static Map<String, String> env(String... pairs) {
    Map<String, String> env = new HashMap<>();
    env.put("LOG_FORMAT", null);
    env.put("KUBERNETES_SERVICE_HOST", null);
    env.put("KUBERNETES_SERVICE_PORT", null);
    env.put("OBSERVATION_STORE", "sqlite");
    for (int i = 0; i < pairs.length; i += 2) {
      env.put(pairs[i], pairs[i + 1]);
    }
    return env;
  }

  @Test
  void outsideAClusterTheLogIsText() throws Exception {
    assertText(runToReadyAndStop(jar.start(dir, env())));
  }

  @Test
  void inAPodTheLogIsJsonLines() throws Exception {
    assertJson(runToReadyAndStop(jar.start(dir, env("KUBERNETES_SERVICE_HOST", "10.96.0.1"))));
  }

  @Test
  void logFormatOverridesThePodAndTheOutsideDefaults() throws Exception {
    assertText(
        runToReadyAndStop(
            jar.start(dir, env("KUBERNETES_SERVICE_HOST", "10.96.0.1", "LOG_FORMAT", "text"))));
    assertJson(runToReadyAndStop(jar.start(dir, env("LOG_FORMAT", "json"))));
  }

  @Test
  void inAPodOnATerminalTheLogIsText() throws Exception {
    Path script = Path.of("/usr/bin/script");
    assertThat(Files.isExecutable(script))
        .as(
            "script (util-linux, Debian's bsdutils) gives the jar a terminal; "
                + ".ci/run installs it")
        .isTrue();
    int port = JarRunner.freePort();
    Path log = Files.createTempFile(dir, "zw", ".log");
    String java =
        String.join(
            " ", List.of(quote(JarRunner.javaBin()), "-Xmx256m", "-jar", quote(JarRunner.JAR)));
    // -q: no start/end banner, -e: its exit status is the jar's, -f: flush as written, /dev/null:
    // no typescript file
    Running r =
        jar.start(
            List.of(script.toString(), "-qefc", java, "/dev/null"),
            port,
            log,
            env("KUBERNETES_SERVICE_HOST", "10.96.0.1"));
    try {
      jar.awaitReady(r);
    } finally {
      // SIGTERM to the jar only; script ends with it (SIGTERM to script would add its own message).
      r.process()
          .descendants()
          .filter(p -> p.info().command().map(c -> c.endsWith("/java")).orElse(false))
          .forEach(ProcessHandle::destroy);
      if (!r.process().waitFor(30, TimeUnit.SECONDS)) {
        r.process().descendants().forEach(ProcessHandle::destroyForcibly);
        r.process().destroyForcibly();
        throw new AssertionError("the jar under script did not stop within 30 s of SIGTERM");
      }
    }
    assertText(Files.readString(log));
  }

  private String runToReadyAndStop(Running r) throws Exception {
    jar.awaitReady(r);
    r.process().destroy();
    assertThat(r.process().waitFor(30, TimeUnit.SECONDS)).as("stops on SIGTERM").isTrue();
    return Files.readString(r.log());
  }

  static void assertText(String log) {
    List<String> lines = log.lines().map(String::strip).filter(l -> !l.isEmpty()).toList();
    assertThat(lines).as(log).isNotEmpty();
    assertThat(lines)
        .as("every line is text: time, level, thread, logger, message")
        .allSatisfy(l -> assertThat(l).matches(TEXT_LINE));
    assertThat(lines)
        .anySatisfy(
            l -> assertThat(l).contains(" INFO ").contains("zen-watcher ready on 127.0.0.1:"));
  }

  static void assertJson(String log) throws Exception {
    List<String> lines = log.lines().filter(l -> !l.isBlank()).toList();
    assertThat(lines).as(log).isNotEmpty();
    boolean ready = false;
    for (String line : lines) {
      JsonNode json = Json.MAPPER.readTree(line);
      assertThat(
              json.isObject()
                  && json.has("message")
                  && json.has("level")
                  && json.has("@timestamp")
                  && json.has("logger_name"))
          .as(line)
          .isTrue();
      ready |=
          json.get("message").asText().startsWith("zen-watcher ready on 127.0.0.1:")
              && json.get("level").asText().equals("INFO");
    }
    assertThat(ready).as("the ready line, as JSON: " + log).isTrue();
  }

  private static String quote(String s) {
    return "'" + s.replace("'", "'\\''") + "'";
  }
}
