package io.kubezen.watcher.model;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;

/**
 * The identity of a finding as a SHA-256 hex string, and the deterministic Observation name derived
 * from it ({@code <source>-<first 16 hex chars>}). Two inputs with the same fingerprint are the
 * same Observation, on any replica, in any process, at any time.
 */
public final class Fingerprint {
  private Fingerprint() {}

  /**
   * @param bucket the dedup time bucket for event-like sources ({@code detectedAt / window}), or -1
   *     for state-like sources, whose findings stay the same Observation forever
   */
  public static String of(String source, List<String> identity, long bucket) {
    MessageDigest sha = sha256();
    update(sha, source);
    for (String part : identity) {
      update(sha, part);
    }
    if (bucket >= 0) {
      update(sha, "bucket:" + bucket);
    }
    return HexFormat.of().formatHex(sha.digest());
  }

  /** The Observation name: {@code <source>-<first 16 hex chars of the fingerprint>}. */
  public static String observationName(String source, String fingerprint) {
    return source + "-" + fingerprint.substring(0, 16);
  }

  // Each part is length-prefixed, so ("ab","c") and ("a","bc") never collide.
  private static void update(MessageDigest sha, String part) {
    byte[] bytes = part.getBytes(StandardCharsets.UTF_8);
    sha.update((byte) (bytes.length >>> 24));
    sha.update((byte) (bytes.length >>> 16));
    sha.update((byte) (bytes.length >>> 8));
    sha.update((byte) bytes.length);
    sha.update(bytes);
  }

  // One digest per thread, reset before each use: getInstance per call costs a provider lookup.
  private static final ThreadLocal<MessageDigest> SHA256 =
      ThreadLocal.withInitial(
          () -> {
            try {
              return MessageDigest.getInstance("SHA-256");
            } catch (NoSuchAlgorithmException e) {
              throw new IllegalStateException("the JVM has no SHA-256", e);
            }
          });

  private static MessageDigest sha256() {
    MessageDigest d = SHA256.get();
    d.reset();
    return d;
  }
}
