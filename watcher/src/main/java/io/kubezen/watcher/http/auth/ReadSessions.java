package io.kubezen.watcher.http.auth;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Base64;
import java.util.Deque;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Browser sessions for {@code READ_AUTH=token}: a browser cannot send {@code Authorization:
 * Bearer}, so the login page ({@code POST /login} with the token) sets a cookie whose value is
 * signed, never the token itself: {@code 1.<expiry epoch seconds>.<random nonce>.<HMAC-SHA256>}.
 * The HMAC key is derived from the read token (HMAC of a fixed label keyed by the token), so every
 * replica accepts the cookies of every other one and a restart keeps them; changing the token ends
 * every session. Sign-out revokes the session's nonce on this replica (kept until it expires; at
 * most {@link #MAX_REVOKED}) and clears the cookie.
 *
 * <p>Wrong tokens are rate-limited per client address: at most {@link #MAX_FAILURES} per {@link
 * #FAILURE_WINDOW}; the login handler also answers each wrong token after {@link #FAILURE_DELAY}.
 * Thread-safe: one instance per server, shared by its event loops.
 */
public final class ReadSessions {
  public static final String COOKIE = "zw_read";

  /** How long a session lasts (the cookie's Max-Age and the signed expiry). */
  public static final Duration TTL = Duration.ofHours(12);

  public static final int MAX_FAILURES = 10;
  public static final Duration FAILURE_WINDOW = Duration.ofMinutes(1);
  public static final Duration FAILURE_DELAY = Duration.ofSeconds(1);
  static final int MAX_REVOKED = 10_000;
  static final int MAX_TRACKED_ADDRESSES = 10_000;
  private static final String LABEL = "zen-watcher read session v1";

  private final byte[] tokenDigest;
  private final byte[] key;
  private final Clock clock;
  private final SecureRandom random = new SecureRandom();

  /** Revoked nonces → their expiry (epoch seconds). */
  private final Map<String, Long> revoked = new ConcurrentHashMap<>();

  /** Recent failure times (epoch millis) per client address. */
  private final Map<String, Deque<Long>> failures = new ConcurrentHashMap<>();

  public ReadSessions(String token, Clock clock) {
    byte[] t = token.getBytes(StandardCharsets.UTF_8);
    this.key = hmac(t, LABEL.getBytes(StandardCharsets.UTF_8));
    this.tokenDigest = hmac(key, t);
    this.clock = clock;
  }

  /**
   * Whether {@code given} is the read token, in constant time (both sides are HMACed first, so
   * neither the content nor the length of the token shows in the time taken).
   */
  public boolean tokenMatches(String given) {
    if (given == null) {
      return false;
    }
    return MessageDigest.isEqual(tokenDigest, hmac(key, given.getBytes(StandardCharsets.UTF_8)));
  }

  /** A new session's cookie value. */
  public String issue() {
    byte[] nonce = new byte[16];
    random.nextBytes(nonce);
    long expiry = clock.instant().plus(TTL).getEpochSecond();
    String payload =
        "1." + expiry + "." + Base64.getUrlEncoder().withoutPadding().encodeToString(nonce);
    return payload + "." + sign(payload);
  }

  /** Whether a cookie value is a session this server signed, not expired and not signed out. */
  public boolean valid(String value) {
    Parsed p = parse(value);
    return p != null && !revoked.containsKey(p.nonce());
  }

  /** Ends a session on this replica (sign-out). Unknown or invalid values are ignored. */
  public void revoke(String value) {
    Parsed p = parse(value);
    if (p == null) {
      return;
    }
    long now = clock.instant().getEpochSecond();
    if (revoked.size() >= MAX_REVOKED) {
      revoked.values().removeIf(expiry -> expiry < now);
    }
    if (revoked.size() < MAX_REVOKED) {
      revoked.put(p.nonce(), p.expiry());
    }
  }

  private record Parsed(long expiry, String nonce) {}

  private Parsed parse(String value) {
    if (value == null || value.length() > 200) {
      return null;
    }
    int mac = value.lastIndexOf('.');
    if (mac < 0) {
      return null;
    }
    String payload = value.substring(0, mac);
    byte[] expected = sign(payload).getBytes(StandardCharsets.US_ASCII);
    if (!MessageDigest.isEqual(
        expected, value.substring(mac + 1).getBytes(StandardCharsets.US_ASCII))) {
      return null;
    }
    String[] parts = payload.split("\\.");
    if (parts.length != 3 || !parts[0].equals("1")) {
      return null;
    }
    long expiry;
    try {
      expiry = Long.parseLong(parts[1]);
    } catch (NumberFormatException e) {
      return null;
    }
    return expiry > clock.instant().getEpochSecond() ? new Parsed(expiry, parts[2]) : null;
  }

  // ---------------------------------------------------------------- wrong tokens

  /**
   * Whether {@code address} may try a token now (fewer than MAX_FAILURES failures in the window).
   */
  public boolean mayTry(String address) {
    Deque<Long> d = failures.get(key(address));
    if (d == null) {
      return true;
    }
    synchronized (d) {
      prune(d, clock.millis());
      return d.size() < MAX_FAILURES;
    }
  }

  /** Counts a wrong token from {@code address}. */
  public void failed(String address) {
    long now = clock.millis();
    if (failures.size() >= MAX_TRACKED_ADDRESSES) {
      failures
          .entrySet()
          .removeIf(
              e -> {
                synchronized (e.getValue()) {
                  prune(e.getValue(), now);
                  return e.getValue().isEmpty();
                }
              });
    }
    Deque<Long> d = failures.computeIfAbsent(key(address), k -> new ArrayDeque<>());
    synchronized (d) {
      prune(d, now);
      d.addLast(now);
    }
  }

  private static String key(String address) {
    return address == null ? "" : address;
  }

  private static void prune(Deque<Long> d, long now) {
    long from = now - FAILURE_WINDOW.toMillis();
    while (!d.isEmpty() && d.peekFirst() < from) {
      d.pollFirst();
    }
  }

  // ---------------------------------------------------------------- next

  /**
   * Where to go after signing in: {@code next} when it is a path on this server ({@code /…}, not
   * {@code //…} nor {@code /\…}, no scheme or host, no control characters), else {@code /}. No open
   * redirect.
   */
  public static String localPath(String next) {
    if (next == null || next.isEmpty() || next.length() > 2048 || next.charAt(0) != '/') {
      return "/";
    }
    if (next.length() > 1 && (next.charAt(1) == '/' || next.charAt(1) == '\\')) {
      return "/";
    }
    for (int i = 0; i < next.length(); i++) {
      char c = next.charAt(i);
      if (c < 0x21 || c == 0x7f || c == '\\') {
        return "/";
      }
    }
    try {
      URI u = new URI(next);
      if (u.getScheme() != null
          || u.getRawAuthority() != null
          || u.getRawPath() == null
          || !u.getRawPath().startsWith("/")
          || u.getRawPath().equals("/login")) {
        return "/";
      }
    } catch (URISyntaxException e) {
      return "/";
    }
    return next;
  }

  // ---------------------------------------------------------------- crypto

  private String sign(String payload) {
    return Base64.getUrlEncoder()
        .withoutPadding()
        .encodeToString(hmac(key, payload.getBytes(StandardCharsets.UTF_8)));
  }

  private static byte[] hmac(byte[] key, byte[] data) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(key.length == 0 ? new byte[1] : key, "HmacSHA256"));
      return mac.doFinal(data);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 unavailable", e);
    }
  }
}
