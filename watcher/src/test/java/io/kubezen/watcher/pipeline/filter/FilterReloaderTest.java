package io.kubezen.watcher.pipeline.filter;

import static io.kubezen.watcher.pipeline.filter.Findings.falco;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.kubezen.api.v1alpha1.Severity;
import io.kubezen.watcher.model.Finding;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FilterReloaderTest {

  private static final String HIGH_ONLY = "global:\n  minSeverity: high\n";
  private static final String CRITICAL_ONLY = "{\"global\": {\"minSeverity\": \"critical\"}}";
  private static final Finding HIGH =
      falco(Severity.HIGH, "payments", "Terminal shell in container");

  @TempDir Path dir;

  private final List<String> loaded = new CopyOnWriteArrayList<>();
  private final List<String> invalid = new CopyOnWriteArrayList<>();
  private final FilterReloader.Listener listener =
      new FilterReloader.Listener() {
        @Override
        public void onLoaded(Filter filter, String contentHash) {
          loaded.add(contentHash);
        }

        @Override
        public void onInvalid(String message) {
          invalid.add(message);
        }
      };
  private FilterReloader reloader;

  @AfterEach
  void close() {
    if (reloader != null) {
      reloader.close();
    }
  }

  /** Writes like a ConfigMap volume does: the new content appears at once. */
  private void write(Path file, String content) throws IOException {
    Path tmp = Files.createTempFile(dir, "tmp", ".part");
    Files.writeString(tmp, content);
    Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }

  /** A reloader that never polls by itself: the test calls poll(). */
  private FilterReloader manual(Path file) {
    reloader = new FilterReloader(file, Duration.ofHours(1), listener);
    return reloader;
  }

  @Test
  void reloadsWhenTheFileChanges() throws Exception {
    Path file = dir.resolve("filter.yaml");
    write(file, HIGH_ONLY);
    reloader = new FilterReloader(file, Duration.ofMillis(50), listener);
    reloader.start();
    assertThat(reloader.current().apply(HIGH).kept()).isTrue();
    assertThat(loaded).containsExactly(FilterReloader.sha256(HIGH_ONLY.getBytes()));
    assertThat(reloader.currentHash()).isEqualTo(loaded.get(0));

    write(file, CRITICAL_ONLY);

    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () -> {
              Decision d = reloader.current().apply(HIGH);
              assertThat(d.dropped()).isTrue();
              assertThat(d.reason()).isEqualTo(DropReason.MIN_SEVERITY);
            });
    assertThat(loaded).hasSize(2);
    assertThat(loaded.get(1)).isEqualTo(FilterReloader.sha256(CRITICAL_ONLY.getBytes()));
    assertThat(invalid).isEmpty();
  }

  @Test
  void invalidNewContentKeepsTheLastGoodFilterAndIsReportedOnce() throws Exception {
    Path file = dir.resolve("filter.yaml");
    write(file, HIGH_ONLY);
    reloader = new FilterReloader(file, Duration.ofMillis(50), listener);
    reloader.start();

    write(file, "global:\n  minSeverity: high\n  expression: \"severity ==\"\n");

    await().atMost(Duration.ofSeconds(10)).until(() -> !invalid.isEmpty());
    assertThat(invalid.get(0))
        .contains(file.toString())
        .contains("global.expression: ")
        .contains("keeping the last good config");
    assertThat(reloader.current().apply(HIGH).kept()).isTrue();
    assertThat(reloader.current().apply(falco(Severity.MEDIUM, "a", "r")).reason())
        .isEqualTo(DropReason.MIN_SEVERITY);
    Thread.sleep(300); // several more polls of the same bad content
    assertThat(invalid).hasSize(1);
    assertThat(loaded).hasSize(1);

    write(file, CRITICAL_ONLY);
    await().atMost(Duration.ofSeconds(10)).until(() -> loaded.size() == 2);
    assertThat(reloader.current().apply(HIGH).dropped()).isTrue();
  }

  @Test
  void deletedFileKeepsTheLastGoodFilter() throws Exception {
    Path file = dir.resolve("filter.yaml");
    write(file, CRITICAL_ONLY);
    FilterReloader r = manual(file);
    r.start();
    Filter before = r.current();

    Files.delete(file);
    r.poll();
    r.poll();

    assertThat(r.current()).isSameAs(before);
    assertThat(r.current().apply(HIGH).dropped()).isTrue();
    assertThat(invalid).hasSize(1);
    assertThat(invalid.get(0)).contains(file.toString()).contains("file not found");

    // It comes back with new content: loaded.
    write(file, HIGH_ONLY);
    r.poll();
    assertThat(r.current().apply(HIGH).kept()).isTrue();
    assertThat(loaded).hasSize(2);
  }

  @Test
  void fileBackToTheContentInForceIsNotReloaded() throws Exception {
    Path file = dir.resolve("filter.yaml");
    write(file, HIGH_ONLY);
    FilterReloader r = manual(file);
    r.start();
    Filter before = r.current();

    write(file, "global: [broken");
    r.poll();
    write(file, HIGH_ONLY);
    r.poll();

    assertThat(invalid).hasSize(1);
    assertThat(loaded).hasSize(1);
    assertThat(r.current()).isSameAs(before);
  }

  @Test
  void aNewMtimeWithTheSameContentIsNotAChange() throws Exception {
    Path file = dir.resolve("filter.yaml");
    write(file, HIGH_ONLY);
    FilterReloader r = manual(file);
    r.start();
    Filter before = r.current();

    Files.setLastModifiedTime(file, FileTime.from(Instant.now().plusSeconds(60)));
    write(file, HIGH_ONLY);
    r.poll();

    assertThat(r.current()).isSameAs(before);
    assertThat(loaded).hasSize(1);
  }

  @Test
  void changeOfContentWithTheSameMtimeIsSeen() throws Exception {
    Path file = dir.resolve("filter.yaml");
    write(file, HIGH_ONLY);
    FileTime mtime = Files.getLastModifiedTime(file);
    FilterReloader r = manual(file);
    r.start();

    Files.writeString(file, CRITICAL_ONLY);
    Files.setLastModifiedTime(file, mtime);
    r.poll();

    assertThat(r.current().apply(HIGH).dropped()).isTrue();
  }

  @Test
  void invalidFileAtStartFailsNamingTheFileAndThePlace() throws Exception {
    Path file = dir.resolve("filter.yaml");
    write(file, "sources:\n  falco:\n    minSeverity: severe\n");
    FilterReloader r = manual(file);

    assertThatThrownBy(r::start)
        .isInstanceOf(FilterConfigException.class)
        .hasMessageStartingWith(
            "filter config " + file + ": sources.falco.minSeverity: unknown severity 'severe'");
    assertThat(loaded).isEmpty();
  }

  @Test
  void missingFileAtStartFails() {
    Path file = dir.resolve("nope.yaml");
    assertThatThrownBy(() -> manual(file).start())
        .isInstanceOf(FilterConfigException.class)
        .hasMessage("filter config " + file + ": file not found");
  }

  @Test
  void notUtf8IsInvalid() throws Exception {
    Path file = dir.resolve("filter.yaml");
    Files.write(file, new byte[] {'g', ':', ' ', (byte) 0xC3, (byte) 0x28});
    assertThatThrownBy(() -> manual(file).start()).hasMessageContaining("not UTF-8");
  }

  @Test
  void currentBeforeStartIsAWiringMistake() {
    FilterReloader r = manual(dir.resolve("filter.yaml"));
    assertThatThrownBy(r::current).isInstanceOf(IllegalStateException.class);
  }

  @Test
  void noneAlwaysAllowsAll() throws Exception {
    FilterReloader none = FilterReloader.none();
    none.start();
    assertThat(none.current()).isSameAs(Filter.ALLOW_ALL);
    assertThat(none.path()).isEmpty();
    none.close();
    assertThat(none.current()).isSameAs(Filter.ALLOW_ALL);
  }

  @Test
  void aFailingListenerDoesNotStopReloading() throws Exception {
    Path file = dir.resolve("filter.yaml");
    write(file, HIGH_ONLY);
    List<String> hashes = new CopyOnWriteArrayList<>();
    reloader =
        new FilterReloader(
            file,
            Duration.ofMillis(50),
            new FilterReloader.Listener() {
              @Override
              public void onLoaded(Filter filter, String contentHash) {
                hashes.add(contentHash);
                throw new IllegalStateException("boom");
              }

              @Override
              public void onInvalid(String message) {
                throw new IllegalStateException("boom");
              }
            });
    reloader.start();
    write(file, "global: [");
    write(file, CRITICAL_ONLY);
    await().atMost(Duration.ofSeconds(10)).until(() -> hashes.size() >= 2);
    write(file, HIGH_ONLY);
    await().atMost(Duration.ofSeconds(10)).until(() -> hashes.size() >= 3);
    assertThat(reloader.current().apply(HIGH).kept()).isTrue();
  }
}
