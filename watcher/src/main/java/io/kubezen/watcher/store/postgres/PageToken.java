package io.kubezen.watcher.store.postgres;

import io.kubezen.watcher.store.InvalidContinueTokenException;
import java.nio.charset.StandardCharsets;
import java.util.Base64;

/**
 * The sort key of the last row of a page (created_ms, name, namespace, cluster), as base64url text.
 * The strings are length-prefixed, so no character in a name can confuse the decoder.
 */
record PageToken(long createdMs, String name, String namespace, String cluster) {
  private static final String VERSION = "p1";

  String encode() {
    String raw =
        VERSION
            + ":"
            + createdMs
            + ":"
            + name.length()
            + ":"
            + namespace.length()
            + ":"
            + name
            + namespace
            + cluster;
    return Base64.getUrlEncoder()
        .withoutPadding()
        .encodeToString(raw.getBytes(StandardCharsets.UTF_8));
  }

  static PageToken decode(String token) {
    try {
      String raw = new String(Base64.getUrlDecoder().decode(token), StandardCharsets.UTF_8);
      String[] parts = raw.split(":", 5);
      if (parts.length != 5 || !VERSION.equals(parts[0])) {
        throw new IllegalArgumentException("unknown layout");
      }
      long createdMs = Long.parseLong(parts[1]);
      int nameLength = Integer.parseInt(parts[2]);
      int namespaceLength = Integer.parseInt(parts[3]);
      String rest = parts[4];
      if (nameLength < 0
          || namespaceLength < 0
          || (long) nameLength + namespaceLength > rest.length()) {
        throw new IllegalArgumentException("bad lengths");
      }
      return new PageToken(
          createdMs,
          rest.substring(0, nameLength),
          rest.substring(nameLength, nameLength + namespaceLength),
          rest.substring(nameLength + namespaceLength));
    } catch (IllegalArgumentException e) { // includes NumberFormatException and bad base64
      throw new InvalidContinueTokenException("invalid continue token: " + e.getMessage());
    }
  }
}
