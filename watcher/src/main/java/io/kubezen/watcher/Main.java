package io.kubezen.watcher;

import io.kubezen.watcher.config.Settings;
import io.kubezen.watcher.config.SettingsException;
import java.time.Clock;
import java.time.Duration;
import java.util.Locale;
import org.slf4j.LoggerFactory;

/** Entry point: read and validate the settings, start, and stop cleanly on SIGTERM. */
public final class Main {
  private Main() {}

  public static void main(String[] args) {
    Settings settings;
    try {
      settings = Settings.fromEnv(System.getenv());
    } catch (SettingsException e) {
      System.err.println("zen-watcher: cannot start, invalid settings:");
      e.problems().forEach(p -> System.err.println("  " + p));
      System.exit(2);
      return;
    }
    // Logging reads these; set them from the validated settings before the first logger exists.
    System.setProperty("LOG_FORMAT", settings.logFormat().name().toLowerCase(Locale.ROOT));
    System.setProperty("LOG_LEVEL", settings.logLevel().toUpperCase(Locale.ROOT));
    ZenWatcher watcher = new ZenWatcher(settings, Clock.systemUTC());
    try {
      watcher.start();
    } catch (RuntimeException e) {
      LoggerFactory.getLogger(Main.class)
          .error("zen-watcher could not start: {}", e.getMessage(), e);
      watcher.stop(Duration.ofSeconds(5));
      System.exit(1);
      return;
    }
    Runtime.getRuntime()
        .addShutdownHook(new Thread(() -> watcher.stop(settings.shutdownTimeout()), "shutdown"));
  }
}
