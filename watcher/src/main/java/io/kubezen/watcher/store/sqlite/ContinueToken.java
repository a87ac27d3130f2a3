package io.kubezen.watcher.store.sqlite;

import io.kubezen.watcher.store.InvalidContinueTokenException;
import java.nio.charset.StandardCharsets;
import java.util.Base64;

/**
 * The sort key of the last row of a page (created_at, name, namespace), as base64url text. Each
 * string is length-prefixed, so no character in a name can confuse the decoder.
 */
record ContinueToken(long createdAt, String name, String namespace) {
  private static final String VERSION = "v1";

  String encode() {
    String raw = VERSION + ":" + createdAt + ":" + name.length() + ":" + name + namespace;
    return Base64.getUrlEncoder()
        .withoutPadding()
        .encodeToString(raw.getBytes(StandardCharsets.UTF_8));
  }

  static ContinueToken decode(String token) {
    try {
      String raw = new String(Base64.getUrlDecoder().decode(token), StandardCharsets.UTF_8);
      String[] parts = raw.split(":", 4);
      if (parts.length != 4 || !VERSION.equals(parts[0])) {
        throw new IllegalArgumentException("unknown layout");
      }
      long createdAt = Long.parseLong(parts[1]);
      int nameLength = Integer.parseInt(parts[2]);
      String rest = parts[3];
      if (nameLength < 0 || nameLength > rest.length()) {
        throw new IllegalArgumentException("bad name length");
      }
      return new ContinueToken(
          createdAt, rest.substring(0, nameLength), rest.substring(nameLength));
    } catch (IllegalArgumentException e) { // includes NumberFormatException and bad base64
      throw new InvalidContinueTokenException("invalid continue token: " + e.getMessage());
    }
  }
}
