package io.kubezen.watcher.ingester.webhook;

import io.kubezen.api.v1alpha1.IngesterSpec;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;
import java.util.Objects;

/**
 * Who may POST to an Ingester's webhook: anyone ({@code none}), a bearer token, or a user name and
 * password (HTTP basic). Credentials are kept as SHA-256 digests and compared in constant time. An
 * Ingester whose credentials could not be read refuses every request ({@link #unavailable}).
 */
public final class WebhookAuth {
  public static final WebhookAuth NONE =
      new WebhookAuth(IngesterSpec.AuthType.NONE, null, null, null);

  private final IngesterSpec.AuthType type;
  private final byte[] first;
  private final byte[] second;
  private final String unavailable;

  private WebhookAuth(IngesterSpec.AuthType type, byte[] first, byte[] second, String unavailable) {
    this.type = type;
    this.first = first;
    this.second = second;
    this.unavailable = unavailable;
  }

  public static WebhookAuth bearer(String token) {
    Objects.requireNonNull(token, "token");
    return new WebhookAuth(IngesterSpec.AuthType.BEARER, digest(token.strip()), null, null);
  }

  public static WebhookAuth basic(String username, String password) {
    Objects.requireNonNull(username, "username");
    Objects.requireNonNull(password, "password");
    return new WebhookAuth(IngesterSpec.AuthType.BASIC, digest(username), digest(password), null);
  }

  /**
   * Auth of this type whose credentials are not available: every request is refused, saying why.
   */
  public static WebhookAuth unavailable(IngesterSpec.AuthType type, String why) {
    return new WebhookAuth(type, null, null, why);
  }

  public IngesterSpec.AuthType type() {
    return type;
  }

  /**
   * True for bearer and basic: the Authorization header is this webhook's, not the global token's.
   */
  public boolean ownsAuthorization() {
    return type != IngesterSpec.AuthType.NONE;
  }

  /** Null when the credentials are usable, else why not. */
  public String problem() {
    return unavailable;
  }

  /**
   * Checks a request's Authorization header.
   *
   * @return null when the request may pass, else the message of the 401 answer
   */
  public String check(String authorization) {
    if (type == IngesterSpec.AuthType.NONE) {
      return null;
    }
    if (unavailable != null) {
      return "the credentials of this webhook are not available: " + unavailable;
    }
    if (type == IngesterSpec.AuthType.BEARER) {
      if (authorization == null
          || authorization.length() < 7
          || !authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
        return "missing 'Authorization: Bearer <token>' header";
      }
      return MessageDigest.isEqual(digest(authorization.substring(7).strip()), first)
          ? null
          : "invalid bearer token";
    }
    if (authorization == null
        || authorization.length() < 6
        || !authorization.regionMatches(true, 0, "Basic ", 0, 6)) {
      return "missing 'Authorization: Basic <credentials>' header";
    }
    String decoded;
    try {
      decoded =
          new String(
              Base64.getDecoder().decode(authorization.substring(6).strip()),
              StandardCharsets.UTF_8);
    } catch (IllegalArgumentException e) {
      return "invalid basic credentials";
    }
    int colon = decoded.indexOf(':');
    String user = colon < 0 ? decoded : decoded.substring(0, colon);
    String pass = colon < 0 ? "" : decoded.substring(colon + 1);
    boolean userOk = MessageDigest.isEqual(digest(user), first);
    boolean passOk = MessageDigest.isEqual(digest(pass), second);
    return userOk & passOk & colon >= 0 ? null : "invalid basic credentials";
  }

  private static byte[] digest(String s) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public String toString() {
    return "WebhookAuth["
        + type.wire()
        + (unavailable != null ? ", unavailable: " + unavailable : "")
        + "]";
  }
}
