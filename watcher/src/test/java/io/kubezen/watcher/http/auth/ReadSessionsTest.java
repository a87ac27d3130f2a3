package io.kubezen.watcher.http.auth;

import static org.assertj.core.api.Assertions.assertThat;

import io.kubezen.watcher.store.MutableClock;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;

/** The signed session values and the wrong-token limit, with a clock the test moves. */
class ReadSessionsTest {
  static final String TOKEN = "0123456789abcdef-read";

  @Test
  void aSessionExpiresIsBoundToTheTokenAndCanBeRevoked() {
    MutableClock clock = new MutableClock(Instant.parse("2026-01-01T00:00:00Z"));
    ReadSessions s = new ReadSessions(TOKEN, clock);
    String v = s.issue();
    assertThat(v).startsWith("1.").doesNotContain(TOKEN);
    assertThat(s.valid(v)).isTrue();
    assertThat(s.issue()).as("a random nonce per session").isNotEqualTo(v);
    // Another replica with the same token accepts it; a changed token does not.
    assertThat(new ReadSessions(TOKEN, clock).valid(v)).isTrue();
    assertThat(new ReadSessions(TOKEN + "x", clock).valid(v)).isFalse();
    // Garbage, truncation, another version.
    for (String bad :
        new String[] {
          null,
          "",
          "1",
          "1.2.3",
          v.substring(0, v.length() - 1),
          "2" + v.substring(1),
          v + "A",
          "x".repeat(300)
        }) {
      assertThat(s.valid(bad)).as(String.valueOf(bad)).isFalse();
    }
    clock.advance(ReadSessions.TTL.minusSeconds(5));
    assertThat(s.valid(v)).isTrue();
    clock.advance(Duration.ofSeconds(10));
    assertThat(s.valid(v)).as("expired").isFalse();
    String w = s.issue();
    s.revoke(w);
    assertThat(s.valid(w)).isFalse();
    assertThat(s.valid(s.issue())).isTrue();
  }

  @Test
  void theTokenIsComparedWhateverItsLength() {
    ReadSessions s = new ReadSessions(TOKEN, Clock.fixed(Instant.EPOCH, ZoneOffset.UTC));
    assertThat(s.tokenMatches(TOKEN)).isTrue();
    assertThat(s.tokenMatches(TOKEN + " ")).isFalse();
    assertThat(s.tokenMatches(TOKEN.substring(1))).isFalse();
    assertThat(s.tokenMatches("")).isFalse();
    assertThat(s.tokenMatches(null)).isFalse();
  }

  @Test
  void wrongTokensAreLimitedPerAddressWithinTheWindow() {
    MutableClock clock = new MutableClock(Instant.parse("2026-01-01T00:00:00Z"));
    ReadSessions s = new ReadSessions(TOKEN, clock);
    for (int i = 0; i < ReadSessions.MAX_FAILURES; i++) {
      assertThat(s.mayTry("10.0.0.1")).isTrue();
      s.failed("10.0.0.1");
    }
    assertThat(s.mayTry("10.0.0.1")).isFalse();
    assertThat(s.mayTry("10.0.0.2")).as("another address").isTrue();
    clock.advance(ReadSessions.FAILURE_WINDOW.plusSeconds(1));
    assertThat(s.mayTry("10.0.0.1")).as("after the window").isTrue();
  }

  @Test
  void nextIsALocalPathOrSlash() {
    assertThat(ReadSessions.localPath("/findings?severity=high&q=a%20b"))
        .isEqualTo("/findings?severity=high&q=a%20b");
    assertThat(ReadSessions.localPath("/")).isEqualTo("/");
    for (String bad :
        new String[] {
          null,
          "",
          "//evil.example",
          "///evil.example",
          "/\\evil.example",
          "https://evil.example",
          "HTTP://evil.example",
          "javascript:alert(1)",
          "evil.example",
          "/a b",
          "/a\tb",
          "/a\nLocation:x",
          "/login",
          "/login?next=/x",
          "/x\\y"
        }) {
      assertThat(ReadSessions.localPath(bad)).as(String.valueOf(bad)).isEqualTo("/");
    }
  }
}
