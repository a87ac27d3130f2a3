package io.kubezen.watcher.pipeline.filter;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Holds the current {@link Filter} of a config file ({@code FILTER_CONFIG}) and reloads it when the
 * file's content changes.
 *
 * <p>{@link #start()} loads the file and fails when it is missing or invalid, so a broken config
 * stops the program at startup with a message naming the file. Afterwards the file is re-read every
 * poll interval on a daemon thread; the SHA-256 of its content, not its mtime, tells whether it
 * changed (a Kubernetes ConfigMap volume swaps a symlink, and mtimes can lie). New valid content
 * replaces the filter ({@link Listener#onLoaded}, INFO log); invalid content, an unreadable file or
 * a deleted file keep the last good filter in force ({@link Listener#onInvalid}, WARN log),
 * reported once per distinct problem, not once per poll.
 */
public final class FilterReloader implements AutoCloseable {

  /** Config files larger than this are refused: a filter config is a few kilobytes. */
  public static final int MAX_CONFIG_BYTES = 1024 * 1024;

  /** Told about every load and every rejected change. Called on the poller thread. */
  public interface Listener {
    /** A config was loaded (at start and on each valid change); contentHash is its SHA-256 hex. */
    void onLoaded(Filter filter, String contentHash);

    /** A change was rejected; the last good filter stays in force. */
    void onInvalid(String message);

    Listener NONE =
        new Listener() {
          @Override
          public void onLoaded(Filter filter, String contentHash) {}

          @Override
          public void onInvalid(String message) {}
        };
  }

  private static final Logger LOG = LoggerFactory.getLogger(FilterReloader.class);
  private static final String MISSING = "(missing)";

  private final Path path;
  private final Duration pollInterval;
  private final Listener listener;
  private final Object lock = new Object();
  private volatile Filter current;
  private volatile String currentHash;

  /** Hash of the last content examined (good or bad), or MISSING: a problem is reported once. */
  private String lastSeen;

  private ScheduledExecutorService poller;
  private boolean closed;

  public FilterReloader(Path path, Duration pollInterval, Listener listener) {
    this.path = Objects.requireNonNull(path, "path");
    this.pollInterval = Objects.requireNonNull(pollInterval, "pollInterval");
    this.listener = Objects.requireNonNull(listener, "listener");
    if (pollInterval.isNegative() || pollInterval.isZero()) {
      throw new IllegalArgumentException("pollInterval must be positive: " + pollInterval);
    }
  }

  private FilterReloader() {
    this.path = null;
    this.pollInterval = null;
    this.listener = Listener.NONE;
    this.current = Filter.ALLOW_ALL;
  }

  /** For "no FILTER_CONFIG set": always {@link Filter#ALLOW_ALL}; start and close do nothing. */
  public static FilterReloader none() {
    return new FilterReloader();
  }

  /** The config file; empty for {@link #none()}. */
  public Optional<Path> path() {
    return Optional.ofNullable(path);
  }

  /** The SHA-256 hex of the content of the filter in force; null before start and for none(). */
  public String currentHash() {
    return currentHash;
  }

  /**
   * The filter in force.
   *
   * @throws IllegalStateException before {@link #start()}: a wiring mistake must not silently
   *     disable filtering
   */
  public Filter current() {
    Filter f = current;
    if (f == null) {
      throw new IllegalStateException("FilterReloader for " + path + " not started");
    }
    return f;
  }

  /**
   * Loads the file and starts watching it.
   *
   * @throws FilterConfigException when the file is missing, unreadable or invalid; the message
   *     names the file and the place in it
   */
  public void start() throws FilterConfigException {
    if (path == null) {
      return;
    }
    synchronized (lock) {
      if (closed) {
        throw new IllegalStateException("FilterReloader for " + path + " is closed");
      }
      if (poller != null) {
        return;
      }
      byte[] content;
      try {
        content = read();
      } catch (NoSuchFileException e) {
        throw new FilterConfigException("filter config " + path + ": file not found");
      } catch (IOException e) {
        throw new FilterConfigException(
            "filter config " + path + ": cannot read: " + e.getMessage(), e);
      }
      String hash = sha256(content);
      Filter filter;
      try {
        filter = compile(content);
      } catch (FilterConfigException e) {
        throw new FilterConfigException("filter config " + path + ": " + e.getMessage(), e);
      }
      install(filter, hash);
      LOG.info("filter config {} loaded (sha256 {})", path, hash);
      notifyLoaded(filter, hash);
      poller =
          Executors.newSingleThreadScheduledExecutor(
              r -> {
                Thread t = new Thread(r, "filter-config-reloader");
                t.setDaemon(true);
                return t;
              });
      long millis = Math.max(1, pollInterval.toMillis());
      poller.scheduleWithFixedDelay(this::poll, millis, millis, TimeUnit.MILLISECONDS);
    }
  }

  /** Stops watching; the current filter stays readable. */
  @Override
  public void close() {
    ScheduledExecutorService p;
    synchronized (lock) {
      closed = true;
      p = poller;
      poller = null;
    }
    if (p != null) {
      p.shutdownNow();
      try {
        p.awaitTermination(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** One poll: re-reads the file and applies a change. Package-private for tests. */
  void poll() {
    try {
      synchronized (lock) {
        if (!closed) {
          check();
        }
      }
    } catch (RuntimeException | Error e) {
      // Never let an exception cancel the periodic task.
      LOG.error("filter config {}: unexpected error while checking for changes", path, e);
    }
  }

  private void check() {
    byte[] content;
    try {
      content = read();
    } catch (NoSuchFileException e) {
      if (!MISSING.equals(lastSeen)) {
        lastSeen = MISSING;
        rejected("file not found (deleted?)");
      }
      return;
    } catch (IOException e) {
      String problem = "cannot read: " + e.getMessage();
      if (!problem.equals(lastSeen)) {
        lastSeen = problem;
        rejected(problem);
      }
      return;
    }
    String hash = sha256(content);
    if (hash.equals(lastSeen)) {
      return;
    }
    lastSeen = hash;
    if (hash.equals(currentHash)) {
      LOG.info("filter config {} is back to the content in force (sha256 {})", path, hash);
      return;
    }
    Filter filter;
    try {
      filter = compile(content);
    } catch (FilterConfigException e) {
      rejected(e.getMessage());
      return;
    }
    install(filter, hash);
    LOG.info("filter config {} reloaded (sha256 {})", path, hash);
    notifyLoaded(filter, hash);
  }

  private void install(Filter filter, String hash) {
    current = filter;
    currentHash = hash;
    lastSeen = hash;
  }

  private void rejected(String problem) {
    String message =
        "filter config "
            + path
            + ": "
            + problem
            + "; keeping the last good config (sha256 "
            + currentHash
            + ")";
    LOG.warn(message);
    try {
      listener.onInvalid(message);
    } catch (RuntimeException e) {
      LOG.error("filter config listener failed", e);
    }
  }

  private void notifyLoaded(Filter filter, String hash) {
    try {
      listener.onLoaded(filter, hash);
    } catch (RuntimeException e) {
      LOG.error("filter config listener failed", e);
    }
  }

  private byte[] read() throws IOException {
    long size = Files.size(path);
    if (size > MAX_CONFIG_BYTES) {
      throw new IOException(
          "file is " + size + " bytes, more than the " + MAX_CONFIG_BYTES + " accepted");
    }
    return Files.readAllBytes(path);
  }

  private static Filter compile(byte[] content) throws FilterConfigException {
    String text;
    try {
      text =
          StandardCharsets.UTF_8
              .newDecoder()
              .onMalformedInput(CodingErrorAction.REPORT)
              .onUnmappableCharacter(CodingErrorAction.REPORT)
              .decode(ByteBuffer.wrap(content))
              .toString();
    } catch (CharacterCodingException e) {
      throw new FilterConfigException("(document): not UTF-8 text");
    }
    return Filter.parse(text);
  }

  static String sha256(byte[] content) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(content));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 missing from the JVM", e);
    }
  }
}
