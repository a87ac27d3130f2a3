package io.kubezen.watcher.pipeline.filter;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** Every example expression in docs/filter.md compiles: the documentation cannot rot silently. */
class FilterDocsTest {
  private static final Pattern EXPRESSION =
      Pattern.compile("^\\s*\"?expression\"?: (\".*\")\\s*}?\\s*$");

  @Test
  void documentedExpressionsCompile() throws Exception {
    Path doc = Path.of("..", "docs", "filter.md");
    if (!Files.exists(doc)) {
      doc = Path.of("docs", "filter.md");
    }
    List<String> lines = Files.readAllLines(doc);
    int count = 0;
    for (String line : lines) {
      Matcher m = EXPRESSION.matcher(line);
      if (m.matches()) {
        String quoted = m.group(1);
        Filter.parse("global:\n  expression: " + quoted + "\n");
        count++;
      }
    }
    assertThat(count).as("expressions found in " + doc).isGreaterThanOrEqualTo(8);
  }
}
