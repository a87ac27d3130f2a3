package io.kubezen.watcher.testing;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A real, throwaway PostgreSQL for the tests: Debian's {@code postgresql} package (.ci/run installs
 * it), one cluster per JVM, {@code initdb} into a temporary directory (as the {@code postgres} user
 * when the tests run as root, which initdb refuses), {@code pg_ctl} on a free loopback port with
 * its Unix socket in that directory; stopped at JVM exit. Each test takes a database of its own
 * with {@link #createDatabase}. When it cannot start, tests fail saying why: they are never
 * skipped.
 *
 * <p>The cluster runs with {@code fsync=off}: it is thrown away, and the tests kill watchers, not
 * the machine.
 */
public final class PostgresServer {
  /** The superuser initdb creates; trusted on loopback. */
  public static final String USER = "zw";

  private static PostgresServer instance;

  private final Path dataDir;
  private final int port;
  private final Path bin;

  private PostgresServer(Path dataDir, int port, Path bin) {
    this.dataDir = dataDir;
    this.port = port;
    this.bin = bin;
  }

  /** The server of this JVM, started on first use. */
  public static synchronized PostgresServer get() {
    if (instance == null) {
      instance = start();
    }
    return instance;
  }

  public int port() {
    return port;
  }

  /** A JDBC URL of database {@code db} of this server. */
  public String url(String db) {
    return "jdbc:postgresql://127.0.0.1:" + port + "/" + db;
  }

  /** Creates a database no other test uses; returns its JDBC URL. */
  public String createDatabase(String prefix) {
    String name =
        (prefix.replaceAll("[^a-zA-Z0-9]", "_")
                + "_"
                + UUID.randomUUID().toString().substring(0, 8))
            .toLowerCase(Locale.ROOT);
    try (Connection c = DriverManager.getConnection(url("postgres"), USER, "");
        Statement st = c.createStatement()) {
      st.execute("CREATE DATABASE " + name);
    } catch (SQLException e) {
      throw new IllegalStateException("cannot create database " + name + ": " + e.getMessage(), e);
    }
    return url(name);
  }

  /** Runs SQL on a database (test setup and inspection). */
  public static void execute(String url, String sql) {
    try (Connection c = DriverManager.getConnection(url, USER, "");
        Statement st = c.createStatement()) {
      st.execute(sql);
    } catch (SQLException e) {
      throw new IllegalStateException(sql + ": " + e.getMessage(), e);
    }
  }

  /** The postmaster's process id (for SIGSTOP/SIGCONT in outage tests). */
  public long pid() {
    try {
      return Long.parseLong(Files.readAllLines(dataDir.resolve("postmaster.pid")).get(0).trim());
    } catch (IOException e) {
      throw new IllegalStateException("cannot read postmaster.pid in " + dataDir, e);
    }
  }

  /**
   * Sends a signal to the postmaster and all its children (the backends): STOP pauses the whole
   * server as a hung machine would, CONT resumes it.
   */
  public void signal(String signal) {
    List<Long> pids = new ArrayList<>();
    pids.add(pid());
    ProcessHandle.of(pid()).ifPresent(p -> p.descendants().forEach(d -> pids.add(d.pid())));
    List<String> cmd = new ArrayList<>(List.of("kill", "-" + signal));
    pids.forEach(p -> cmd.add(Long.toString(p)));
    run(cmd, 10);
  }

  private static PostgresServer start() {
    Path bin =
        findBin()
            .orElseThrow(
                () ->
                    new IllegalStateException(
                        "the PostgreSQL tests need a PostgreSQL server: install Debian's postgresql package (apt-get install -y"
                            + " postgresql; .ci/run does it); no initdb under /usr/lib/postgresql/*/bin"));
    try {
      Path dir = Files.createTempDirectory("zw-postgres");
      Path data = dir.resolve("data");
      boolean root = "root".equals(System.getProperty("user.name"));
      if (root) {
        run(List.of("chown", "postgres:postgres", dir.toString()), 10);
      }
      run(
          as(
              root,
              List.of(
                  bin.resolve("initdb").toString(),
                  "-D",
                  data.toString(),
                  "-U",
                  USER,
                  "--auth=trust",
                  "-E",
                  "UTF8",
                  "--no-locale",
                  "--no-sync")),
          120);
      int port;
      try (ServerSocket s = new ServerSocket(0)) {
        port = s.getLocalPort();
      }
      String opts =
          "-p "
              + port
              + " -k "
              + dir
              + " -c listen_addresses=127.0.0.1 -c fsync=off"
              + " -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 -c shared_buffers=128MB";
      run(
          as(
              root,
              List.of(
                  bin.resolve("pg_ctl").toString(),
                  "-D",
                  data.toString(),
                  "-l",
                  dir.resolve("server.log").toString(),
                  "-o",
                  opts,
                  "-w",
                  "-t",
                  "60",
                  "start")),
          90);
      PostgresServer server = new PostgresServer(data, port, bin);
      Runtime.getRuntime()
          .addShutdownHook(
              new Thread(
                  () -> {
                    try {
                      server.signal("CONT");
                    } catch (RuntimeException ignored) {
                      // not paused
                    }
                    try {
                      new ProcessBuilder(
                              as(
                                  root,
                                  List.of(
                                      bin.resolve("pg_ctl").toString(),
                                      "-D",
                                      data.toString(),
                                      "-m",
                                      "immediate",
                                      "stop")))
                          .redirectErrorStream(true)
                          .start()
                          .waitFor(20, TimeUnit.SECONDS);
                      try (Stream<Path> files = Files.walk(dir)) {
                        files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
                      }
                    } catch (IOException | InterruptedException ignored) {
                      // best effort at exit
                    }
                  }));
      return server;
    } catch (IOException e) {
      throw new IllegalStateException("cannot start PostgreSQL: " + e.getMessage(), e);
    }
  }

  private static List<String> as(boolean root, List<String> cmd) {
    if (!root) {
      return cmd;
    }
    List<String> out = new ArrayList<>(List.of("runuser", "-u", "postgres", "--"));
    out.addAll(cmd);
    return out;
  }

  private static Optional<Path> findBin() {
    Path base = Path.of("/usr/lib/postgresql");
    if (!Files.isDirectory(base)) {
      return Optional.empty();
    }
    try (Stream<Path> versions = Files.list(base)) {
      return versions
          .map(v -> v.resolve("bin"))
          .filter(b -> Files.isExecutable(b.resolve("initdb")))
          .max(Comparator.comparing(b -> versionOf(b.getParent().getFileName().toString())));
    } catch (IOException e) {
      return Optional.empty();
    }
  }

  private static int versionOf(String s) {
    try {
      return Integer.parseInt(s);
    } catch (NumberFormatException e) {
      return 0;
    }
  }

  private static String run(List<String> cmd, int timeoutSeconds) {
    try {
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
      byte[] out = p.getInputStream().readAllBytes();
      if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IllegalStateException(
            String.join(" ", cmd) + " did not finish in " + timeoutSeconds + " s");
      }
      String text = new String(out, java.nio.charset.StandardCharsets.UTF_8);
      if (p.exitValue() != 0) {
        throw new IllegalStateException(
            String.join(" ", cmd) + " failed (" + p.exitValue() + "): " + text);
      }
      return text;
    } catch (IOException e) {
      throw new IllegalStateException("cannot run " + cmd.get(0) + ": " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  public Path binDir() {
    return bin;
  }
}
