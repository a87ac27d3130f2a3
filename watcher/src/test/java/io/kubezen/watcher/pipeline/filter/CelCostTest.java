package io.kubezen.watcher.pipeline.filter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kubezen.api.v1alpha1.IngesterSpec;
import io.kubezen.watcher.ingester.mapping.MappingNormalizer;
import io.kubezen.watcher.model.Json;
import io.kubezen.watcher.source.IngestContext;
import io.kubezen.watcher.source.InvalidInputException;
import io.kubezen.watcher.source.SourceKind;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/**
 * Issue 10, point 4: CEL expressions that grow strings. The reproduction is refused at load with an
 * error naming the limit; what slips through (an input larger than the probe) fails that one
 * evaluation instead of exhausting the heap.
 */
class CelCostTest {
  static final String GROWING =
      "title.replace('', title).replace('', title).replace('', title).replace('', title).size() > 0";

  @Test
  void theReproductionIsRefusedAtLoadWithTheLimitNamed() {
    assertThatThrownBy(() -> Filter.parse("global:\n  expression: \"" + GROWING + "\"\n"))
        .isInstanceOf(FilterConfigException.class)
        .hasMessageContaining("global.expression")
        .hasMessageContaining("CEL cost limit")
        .hasMessageContaining("CEL_COST_LIMIT");
  }

  @Test
  void growthThroughDetailsAndComprehensionsIsRefusedToo() {
    assertThatThrownBy(
            () ->
                Filter.parse(
                    "global:\n  expression: \"details.x.replace('', details.x).size() > 0\"\n"))
        .isInstanceOf(FilterConfigException.class)
        .hasMessageContaining("CEL_COST_LIMIT");
    assertThatThrownBy(
            () ->
                Filter.parse(
                    "global:\n  expression: \"title.split('').map(a, title.split('')"
                        + ".map(b, title + a + b)).size() > 0\"\n"))
        .isInstanceOf(FilterConfigException.class)
        .hasMessageContaining("CEL_COST_LIMIT");
  }

  @Test
  void ordinaryExpressionsStillLoadAndWork() throws Exception {
    Filter f =
        Filter.parse(
            "global:\n  expression: \"title.replace('shell', 'sh').size() > 0 && "
                + "!title.contains('xyz')\"\n");
    assertThat(
            f.apply(Findings.falco(io.kubezen.api.v1alpha1.Severity.HIGH, "shop", "Terminal shell"))
                .kept())
        .isTrue();
  }

  static IngesterSpec.Mapping titleMapping(String title) {
    return new IngesterSpec.Mapping(null, null, null, title, null, null, null, null, null, null);
  }

  @Test
  void aGrowingMappingIsRefusedAtLoad() {
    assertThatThrownBy(
            () ->
                new MappingNormalizer(
                    "acme",
                    SourceKind.EVENT,
                    titleMapping(
                        "object.t.replace('', object.t).replace('', object.t).replace('', object.t)")))
        .isInstanceOf(MappingNormalizer.MappingException.class)
        .hasMessageContaining("mapping.title")
        .hasMessageContaining("CEL_COST_LIMIT");
  }

  @Test
  void aMappingThatGrowsOnlyWithItsInputFailsThatInputNotTheProcess() throws Exception {
    // Harmless on the probe (a short list), quadratic in the input: passes the load check.
    MappingNormalizer m =
        new MappingNormalizer(
            "acme",
            SourceKind.EVENT,
            titleMapping(
                "object.parts.map(a, object.parts.map(b, object.parts.join(''))).size() > 0 ? 't' : 'f'"));
    StringBuilder parts = new StringBuilder("[");
    for (int i = 0; i < 400; i++) {
      parts.append(i == 0 ? "" : ",").append("\"").append("y".repeat(60)).append("\"");
    }
    parts.append("]");
    var input = Json.MAPPER.readTree("{\"parts\":" + parts + "}");
    long t0 = System.nanoTime();
    assertThatThrownBy(
            () -> m.normalize(input, IngestContext.at(Instant.parse("2026-01-01T00:00:00Z"))))
        .isInstanceOf(InvalidInputException.class)
        .hasMessageContaining("CEL_COST_LIMIT");
    assertThat((System.nanoTime() - t0) / 1_000_000).as("stopped early (ms)").isLessThan(10_000);
  }
}
