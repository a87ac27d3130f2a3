package io.kubezen.watcher.http;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.kubezen.watcher.config.Cidr;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * Who may send webhooks: the allowed networks (403), the bearer token compared in constant time
 * (401), and a per-client token-bucket rate limit (429). Each check is off when not configured.
 */
public final class WebhookGuard {

  /** A refusal, or null for "let it through". */
  public record Refusal(int status, String message, long retryAfterSeconds) {}

  private final List<Cidr> allowed;
  private final byte[] token;
  private final double ratePerSecond;
  private final int burst;
  private final Cache<String, Bucket> buckets;

  public WebhookGuard(List<Cidr> allowed, Optional<String> token, double ratePerSecond, int burst) {
    this.allowed = List.copyOf(allowed);
    this.token = token.map(t -> t.getBytes(StandardCharsets.UTF_8)).orElse(null);
    this.ratePerSecond = ratePerSecond;
    this.burst = burst;
    this.buckets =
        Caffeine.newBuilder()
            .maximumSize(100_000)
            .expireAfterAccess(Duration.ofMinutes(10))
            .build();
  }

  /**
   * @param clientAddress the peer's IP address
   * @param authorization the Authorization header, or null
   * @param nowNanos a monotonic time (System.nanoTime)
   */
  public Refusal check(String clientAddress, String authorization, long nowNanos) {
    return check(clientAddress, authorization, nowNanos, true);
  }

  /**
   * The same; with {@code checkToken} false the global bearer token is not required (for a route
   * with auth of its own, such as an Ingester's webhook with bearer or basic auth).
   */
  public Refusal check(
      String clientAddress, String authorization, long nowNanos, boolean checkToken) {
    if (!allowed.isEmpty() && !isAllowed(clientAddress)) {
      return new Refusal(
          403, "client address " + clientAddress + " is not in WEBHOOK_ALLOWED_CIDRS", 0);
    }
    if (checkToken && token != null && !tokenMatches(authorization)) {
      return new Refusal(
          401,
          authorization == null
              ? "missing 'Authorization: Bearer <token>' header"
              : "invalid bearer token",
          0);
    }
    if (ratePerSecond > 0) {
      Bucket b =
          buckets.get(clientAddress == null ? "" : clientAddress, k -> new Bucket(burst, nowNanos));
      long waitNanos = b.take(nowNanos, ratePerSecond, burst);
      if (waitNanos > 0) {
        long retry = Math.max(1, (waitNanos + 999_999_999L) / 1_000_000_000L);
        return new Refusal(
            429, "rate limit of " + ratePerSecond + " requests/s per client exceeded", retry);
      }
    }
    return null;
  }

  private boolean isAllowed(String clientAddress) {
    if (clientAddress == null) {
      return false;
    }
    InetAddress a;
    try {
      // Only literal addresses reach here (the socket's peer address): no DNS lookup happens.
      a = InetAddress.getByName(clientAddress);
    } catch (UnknownHostException e) {
      return false;
    }
    for (Cidr c : allowed) {
      if (c.contains(a)) {
        return true;
      }
    }
    return false;
  }

  private boolean tokenMatches(String authorization) {
    if (authorization == null
        || authorization.length() < 7
        || !authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
      return false;
    }
    byte[] given = authorization.substring(7).trim().getBytes(StandardCharsets.UTF_8);
    return MessageDigest.isEqual(given, token);
  }

  /** A token bucket; synchronized per client, so clients do not contend with each other. */
  private static final class Bucket {
    private double tokens;
    private long lastNanos;

    Bucket(int burst, long now) {
      this.tokens = burst;
      this.lastNanos = now;
    }

    /** Takes one token; returns 0 when taken, else the nanoseconds until one is available. */
    synchronized long take(long now, double rate, int burst) {
      double elapsed = Math.max(0, now - lastNanos) / 1e9;
      lastNanos = now;
      tokens = Math.min(burst, tokens + elapsed * rate);
      if (tokens >= 1) {
        tokens -= 1;
        return 0;
      }
      return (long) ((1 - tokens) / rate * 1e9);
    }
  }
}
