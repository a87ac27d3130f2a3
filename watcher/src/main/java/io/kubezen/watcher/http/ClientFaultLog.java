package io.kubezen.watcher.http;

import java.io.IOException;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Faults a client causes (it went away, sent a malformed chunk, reset an HTTP/2 stream, held a
 * connection without a request): logged at DEBUG each, and at most once a minute at INFO as a
 * count, never as an ERROR with a stack trace, so a hostile client cannot flood the log.
 */
public final class ClientFaultLog {
  private static final Logger log = LoggerFactory.getLogger(ClientFaultLog.class);

  /** One for the process: the web server and the log filter count into it. */
  static final ClientFaultLog INSTANCE = new ClientFaultLog();

  private ClientFaultLog() {}

  static final long INTERVAL_NANOS = 60_000_000_000L;

  private final AtomicLong count = new AtomicLong();
  private final AtomicLong sinceLastLine = new AtomicLong();
  private final AtomicLong nextLine = new AtomicLong(System.nanoTime());

  /** Client faults seen so far. */
  long count() {
    return count.get();
  }

  void record(Throwable t) {
    record(t.getClass().getSimpleName() + ": " + t.getMessage());
  }

  void record(String what) {
    count.incrementAndGet();
    sinceLastLine.incrementAndGet();
    log.debug("client fault: {}", what);
    long now = System.nanoTime();
    long next = nextLine.get();
    if (now - next >= 0 && nextLine.compareAndSet(next, now + INTERVAL_NANOS)) {
      log.info(
          "{} client faults (disconnects, malformed requests, resets, idle connections) in the last minute; "
              + "the last: {} (each at DEBUG)",
          sinceLastLine.getAndSet(0),
          what);
    }
  }

  /** Whether a failure while serving a request is the client's doing rather than a bug here. */
  static boolean isClientFault(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
      StackTraceElement[] st = c.getStackTrace();
      if (st.length > 0
          && (st[0].getClassName().startsWith("io.netty.handler.codec.")
              || (st.length > 1 && st[1].getClassName().startsWith("io.netty.handler.codec.")))) {
        return true; // thrown by a protocol decoder: the client sent something malformed
      }
      if (c instanceof io.vertx.core.http.HttpClosedException
          || c instanceof io.vertx.core.http.StreamResetException
          || c instanceof io.netty.handler.codec.DecoderException
          || c instanceof io.netty.handler.codec.http2.Http2Exception
          || c instanceof IOException) {
        return true;
      }
      String m = c.getMessage();
      if (c instanceof io.vertx.core.VertxException
          && m != null
          && (m.contains("Connection was closed") || m.contains("closed") || m.contains("reset"))) {
        return true;
      }
    }
    return false;
  }

  /**
   * Logback filter: Vert.x logs a client fault that reached a router as {@code ERROR Unhandled
   * exception in router} with a stack trace (~3.4 KB); such events are counted here instead.
   */
  public static final class Filter extends ch.qos.logback.classic.turbo.TurboFilter {
    @Override
    public ch.qos.logback.core.spi.FilterReply decide(
        org.slf4j.Marker marker,
        ch.qos.logback.classic.Logger logger,
        ch.qos.logback.classic.Level level,
        String format,
        Object[] params,
        Throwable t) {
      if (t != null
          && level != null
          && level.isGreaterOrEqual(ch.qos.logback.classic.Level.WARN)
          && logger.getName().startsWith("io.vertx")
          && isClientFault(t)) {
        INSTANCE.record(t);
        return ch.qos.logback.core.spi.FilterReply.DENY;
      }
      return ch.qos.logback.core.spi.FilterReply.NEUTRAL;
    }
  }
}
