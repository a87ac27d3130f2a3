package io.kubezen.watcher.model;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class FingerprintTest {

  @Test
  void sameIdentityGivesSameFingerprintAndName() {
    String a = Fingerprint.of("falco", List.of("rule", "ns/pod", "c1"), 42);
    String b = Fingerprint.of("falco", List.of("rule", "ns/pod", "c1"), 42);
    assertThat(a).isEqualTo(b).hasSize(64).matches("[0-9a-f]{64}");
    assertThat(Fingerprint.observationName("falco", a)).isEqualTo("falco-" + a.substring(0, 16));
  }

  @Test
  void partsAreDelimitedSoShiftedBoundariesDiffer() {
    assertThat(Fingerprint.of("s", List.of("ab", "c"), -1))
        .isNotEqualTo(Fingerprint.of("s", List.of("a", "bc"), -1));
  }

  @Test
  void bucketAndSourceJoinTheIdentity() {
    String base = Fingerprint.of("falco", List.of("x"), 1);
    assertThat(Fingerprint.of("falco", List.of("x"), 2)).isNotEqualTo(base);
    assertThat(Fingerprint.of("falco", List.of("x"), -1)).isNotEqualTo(base);
    assertThat(Fingerprint.of("generic", List.of("x"), 1)).isNotEqualTo(base);
  }
}
