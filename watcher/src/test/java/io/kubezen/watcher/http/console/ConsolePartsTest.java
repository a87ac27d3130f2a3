package io.kubezen.watcher.http.console;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kubezen.watcher.store.FindingFilter;
import io.kubezen.watcher.store.FindingSort;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The pure parts: URL state, CSV cells, links. */
class ConsolePartsTest {
  @Test
  void queryRoundTripsThroughTheUrlAndDropsThePageTokenOnAnyChange() {
    ConsoleQuery q =
        ConsoleQuery.parse(
            Map.of("severity", "HIGH", "namespace", "shop", "q", "a&b c", "after", "t", "junk", "x")
                ::get);
    assertThat(q.queryString()).isEqualTo("?severity=HIGH&namespace=shop&q=a%26b+c&after=t");
    assertThat(q.with("sort", "count").get("after")).isNull();
    assertThat(q.with("after", "u").get("after")).isEqualTo("u");
    FindingFilter f = q.filter(Instant.EPOCH);
    assertThat(f.severity()).isEqualTo("high");
    assertThat(f.state()).isEqualTo(FindingFilter.State.OPEN);
    assertThat(f.text()).isEqualTo("a&b c");
    assertThat(q.sort()).isEqualTo(FindingSort.LAST_SEEN);
    Instant now = Instant.parse("2026-12-05T12:00:00Z");
    assertThat(ConsoleQuery.parse(Map.of("since", "7d")::get).filter(now).lastSeenFrom())
        .isEqualTo(Instant.parse("2026-11-28T12:00:00Z"));
    assertThat(
            ConsoleQuery.parse(Map.of("firstFrom", "2026-12-01T10:00")::get)
                .filter(now)
                .firstSeenFrom())
        .isEqualTo(Instant.parse("2026-12-01T10:00:00Z"));
    assertThatThrownBy(() -> ConsoleQuery.parse(Map.of("since", "1y")::get))
        .hasMessageContaining("since");
  }

  @Test
  void csvCellsCannotBecomeFormulas() {
    assertThat(Csv.cell("=1+2")).isEqualTo("'=1+2");
    assertThat(Csv.cell("+1")).isEqualTo("'+1");
    assertThat(Csv.cell("-1")).isEqualTo("'-1");
    assertThat(Csv.cell("@SUM(A1)")).isEqualTo("'@SUM(A1)");
    assertThat(Csv.cell("\tx")).isEqualTo("'\tx");
    assertThat(Csv.cell("a,b")).isEqualTo("\"a,b\"");
    assertThat(Csv.cell("say \"hi\"\nthere")).isEqualTo("\"say \"\"hi\"\"\nthere\"");
    assertThat(Csv.cell("=a,b")).isEqualTo("\"'=a,b\"");
    assertThat(Csv.cell(null)).isEmpty();
  }

  @Test
  void onlyPlainHttpLinksAreClickable() {
    assertThat(Pages.safeLink("https://avd.aquasec.com/nvd/cve-2023-44487"))
        .isEqualTo("https://avd.aquasec.com/nvd/cve-2023-44487");
    assertThat(Pages.safeLink("javascript:alert(1)")).isNull();
    assertThat(Pages.safeLink("data:text/html,x")).isNull();
    assertThat(Pages.safeLink("https://x\"onmouseover=")).isNull();
    assertThat(Pages.safeLink("http:///nohost")).isNull();
  }

  @Test
  void chartScaleIsRound() {
    assertThat(Pages.niceMax(1)).isEqualTo(1);
    assertThat(Pages.niceMax(3)).isEqualTo(5);
    assertThat(Pages.niceMax(7)).isEqualTo(10);
    assertThat(Pages.niceMax(11)).isEqualTo(20);
    assertThat(Pages.niceMax(4100)).isEqualTo(5000);
  }
}
