package io.kubezen.watcher.http;

import io.netty.channel.Channel;
import io.netty.handler.traffic.GlobalTrafficShapingHandler;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.impl.HttpServerImpl;
import io.vertx.core.impl.ContextInternal;
import io.vertx.core.impl.VertxInternal;
import io.vertx.core.net.SocketAddress;
import io.vertx.core.net.impl.SslChannelProvider;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiConsumer;

/**
 * The Vert.x HTTP server with a hook at accept time, which Vert.x's own API does not have (its
 * connection handler runs only once a first request head is read, so a connection that never sends
 * one is invisible to it): the connection cap ({@code HTTP_MAX_CONNECTIONS}, over it the connection
 * is closed at once) and the header timeout and version check of {@link VersionCheck}, installed
 * before anything is read.
 */
final class GuardedHttpServer extends HttpServerImpl {
  private final AtomicInteger connections;
  private final AtomicLong refused;
  private final int maxConnections;
  private final long headerTimeoutMillis;
  private final ClientFaultLog faults;

  GuardedHttpServer(
      VertxInternal vertx,
      HttpServerOptions options,
      AtomicInteger connections,
      AtomicLong refused,
      int maxConnections,
      long headerTimeoutMillis,
      ClientFaultLog faults) {
    super(vertx, options);
    this.connections = connections;
    this.refused = refused;
    this.maxConnections = maxConnections;
    this.headerTimeoutMillis = headerTimeoutMillis;
    this.faults = faults;
  }

  @Override
  protected BiConsumer<Channel, SslChannelProvider> childHandler(
      ContextInternal context, SocketAddress address, GlobalTrafficShapingHandler trafficShaping) {
    BiConsumer<Channel, SslChannelProvider> inner =
        super.childHandler(context, address, trafficShaping);
    return (channel, ssl) -> {
      if (connections.incrementAndGet() > maxConnections) {
        connections.decrementAndGet();
        refused.incrementAndGet();
        faults.record("connection refused: over HTTP_MAX_CONNECTIONS=" + maxConnections);
        channel.close();
        return;
      }
      channel.closeFuture().addListener(f -> connections.decrementAndGet());
      inner.accept(channel, ssl);
      // The header timeout, from the accept: closed unless a request head was read by then.
      channel
          .eventLoop()
          .schedule(
              () -> {
                if (!Boolean.TRUE.equals(channel.attr(VersionCheck.HEAD_SEEN).get())
                    && channel.isActive()) {
                  faults.record("connection closed: no request head within HTTP_HEADER_TIMEOUT");
                  channel.close();
                }
              },
              headerTimeoutMillis,
              java.util.concurrent.TimeUnit.MILLISECONDS);
      // The version check: on the first request line here (Vert.x picks HTTP/1 or HTTP/2 from the
      // first bytes, so its decoder is not there yet), then right after the HTTP/1 decoder.
      channel.pipeline().addFirst(FirstLine.NAME, new FirstLine(faults));
    };
  }

  /**
   * Answers a first request line with an unsupported version (505, JSON), then installs {@link
   * VersionCheck}.
   */
  static final class FirstLine extends io.netty.channel.ChannelInboundHandlerAdapter {
    static final String NAME = "zwFirstLine";
    private final ClientFaultLog faults;

    FirstLine(ClientFaultLog faults) {
      this.faults = faults;
    }

    @Override
    public void channelRead(io.netty.channel.ChannelHandlerContext ctx, Object msg) {
      io.netty.channel.ChannelPipeline p = ctx.pipeline();
      if (msg instanceof io.netty.buffer.ByteBuf buf) {
        String version = unsupportedVersion(buf);
        if (version != null) {
          buf.release();
          faults.record(
              "unsupported HTTP version in the request line: " + BodyParser.shorten(version));
          byte[] body =
              new io.vertx.core.json.JsonObject()
                  .put("error", "http_version_not_supported")
                  .put(
                      "message",
                      "'"
                          + BodyParser.shorten(version)
                          + "' is not served: use HTTP/1.1 (or HTTP/2 by "
                          + "upgrade or prior knowledge)")
                  .put("status", 505)
                  .encode()
                  .getBytes(java.nio.charset.StandardCharsets.UTF_8);
          String head =
              "HTTP/1.1 505 HTTP Version Not Supported\r\nContent-Type: application/json\r\n"
                  + "Content-Length: "
                  + body.length
                  + "\r\nConnection: close\r\n\r\n";
          io.netty.buffer.ByteBuf out = ctx.alloc().buffer(head.length() + body.length);
          out.writeBytes(head.getBytes(java.nio.charset.StandardCharsets.US_ASCII))
              .writeBytes(body);
          ctx.writeAndFlush(out).addListener(io.netty.channel.ChannelFutureListener.CLOSE);
          return;
        }
      }
      p.remove(this);
      ctx.fireChannelRead(msg);
      // Vert.x has configured HTTP/1 or HTTP/2 by now: later request lines are checked after the
      // decoder.
      if (ctx.channel().isActive()
          && p.get("httpDecoder") != null
          && p.get(VersionCheck.NAME) == null) {
        p.addAfter("httpDecoder", VersionCheck.NAME, new VersionCheck());
      }
    }

    /**
     * The version of the first request line when it is complete in {@code buf} and not one served;
     * else null.
     */
    static String unsupportedVersion(io.netty.buffer.ByteBuf buf) {
      int end =
          buf.indexOf(
              buf.readerIndex(),
              Math.min(buf.writerIndex(), buf.readerIndex() + 8192),
              (byte) '\n');
      if (end < 0) {
        return null;
      }
      String line =
          buf.toString(
                  buf.readerIndex(),
                  end - buf.readerIndex(),
                  java.nio.charset.StandardCharsets.ISO_8859_1)
              .strip();
      int space = line.lastIndexOf(' ');
      if (space < 0 || line.startsWith("PRI ")) {
        return null; // not a request line (the decoder answers 400), or the HTTP/2 preface
      }
      String version = line.substring(space + 1);
      if (!version.startsWith("HTTP/")
          || version.equals("HTTP/1.1")
          || version.equals("HTTP/1.0")) {
        return null;
      }
      return version;
    }
  }
}
