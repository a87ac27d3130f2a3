package io.kubezen.watcher.source.catalog;

import static org.assertj.core.api.Assertions.assertThat;

import io.kubezen.watcher.source.BodyFormat;
import io.kubezen.watcher.source.SourceDescriptor;
import io.kubezen.watcher.source.WatchedResource;
import io.kubezen.watcher.source.generic.GenericSource;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * docs/sources/README.md's table of sources is generated from the list of descriptors ({@link
 * Sources#BUILT_IN}); this test fails when the committed page differs. To regenerate: {@code ./mvnw
 * -pl watcher test -Dtest=SourcesDocTest -Dzw.writeDocs=true}.
 */
class SourcesDocTest {
  static final Path INDEX = Path.of("../docs/sources/README.md");
  static final String BEGIN =
      "<!-- sources-table:begin (generated from source/catalog/Sources by SourcesDocTest; "
          + "do not edit) -->";
  static final String END = "<!-- sources-table:end -->";

  static String table() {
    StringBuilder b = new StringBuilder();
    b.append(
        "| source | kind | webhook Content-Types | default body limit | watched in Kubernetes mode | declared in |\n");
    b.append("|---|---|---|---|---|---|\n");
    for (SourceDescriptor d : Sources.BUILT_IN) {
      b.append("| [")
          .append(d.name())
          .append("](")
          .append(Path.of(d.docsPage()).getFileName())
          .append(") | ")
          .append(
              d.kind() == io.kubezen.watcher.source.SourceKind.EVENT ? "event-like" : "state-like")
          .append(" | ")
          .append(
              d.bodyFormats().stream()
                  .map(f -> "`" + f.mediaTypes() + "`")
                  .collect(Collectors.joining(", ")))
          .append(d.jsonSequence() ? " (JSON: one value or several in a row)" : "")
          .append(" | ")
          .append(
              d.defaultMaxBodyBytes() > 0
                  ? mib(d.defaultMaxBodyBytes())
                  : "`WEBHOOK_MAX_BODY_BYTES`")
          .append(" | ")
          .append(d.watches().isEmpty() ? "no (webhook only)" : watches(d.watches()))
          .append(" | `")
          .append(d.normalizer().getClass().getPackageName().replace("io.kubezen.watcher.", ""))
          .append("` |\n");
    }
    b.append("| [any other name](generic.md) | event-like | `")
        .append(BodyFormat.JSON.mediaTypes())
        .append("` | `WEBHOOK_MAX_BODY_BYTES` | no (webhook only) | `")
        .append(GenericSource.class.getPackageName().replace("io.kubezen.watcher.", ""))
        .append("` |\n");
    return b.toString();
  }

  private static String watches(List<WatchedResource> rs) {
    List<String> out = new ArrayList<>();
    for (WatchedResource r : rs) {
      String s =
          (r.group().isEmpty() ? "" : r.group() + "/")
              + r.version()
              + " "
              + r.plural()
              + (r.namespaced() ? "" : " (cluster)");
      if (r.labelSelector() != null) {
        s += " labelled `" + r.labelSelector() + "`";
      }
      out.add(s);
    }
    return String.join("; ", out);
  }

  private static String mib(long bytes) {
    return bytes % (1L << 20) == 0 ? (bytes >> 20) + " MiB" : bytes + " bytes";
  }

  @Test
  void theTableOfSourcesIsGeneratedFromTheList() throws IOException {
    String page = Files.readString(INDEX);
    int from = page.indexOf(BEGIN);
    int to = page.indexOf(END);
    assertThat(from).as("markers in " + INDEX).isNotNegative();
    assertThat(to).isGreaterThan(from);
    String expected =
        page.substring(0, from + BEGIN.length()) + "\n" + table() + page.substring(to);
    if (Boolean.getBoolean("zw.writeDocs")) {
      Files.writeString(INDEX, expected);
      page = expected;
    }
    assertThat(page)
        .as(
            "docs/sources/README.md differs from the list of sources: run ./mvnw -pl watcher test "
                + "-Dtest=SourcesDocTest -Dzw.writeDocs=true")
        .isEqualTo(expected);
  }

  @Test
  void everySourceHasItsPageAndTheReadmeLinksIt() throws IOException {
    String readme = Files.readString(Path.of("../README.md"));
    List<String> pages = new ArrayList<>();
    Sources.BUILT_IN.forEach(d -> pages.add(d.docsPage()));
    pages.add(GenericSource.DOCS_PAGE);
    for (String page : pages) {
      Path p = Path.of("..").resolve(page);
      assertThat(p).as(page).exists();
      assertThat(readme).as("README links " + page).contains("(" + page + ")");
    }
    for (SourceDescriptor d : Sources.BUILT_IN) {
      assertThat(Files.readString(Path.of("..").resolve(d.docsPage())))
          .as(d.docsPage())
          .contains("`" + d.name() + "`");
    }
  }
}
