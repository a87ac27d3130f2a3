package io.kubezen.watcher.http;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.AttributeKey;

/**
 * A step after the HTTP decoder of each connection (see {@link GuardedHttpServer}):
 *
 * <ul>
 *   <li>it marks the connection once a request head was read (the header timeout closes those that
 *       sent none within {@code HTTP_HEADER_TIMEOUT}: a slowloris sends its head a byte at a time,
 *       which the idle timeout alone does not stop);
 *   <li>a request line with a version other than HTTP/1.0 or 1.1 (such as {@code GET / HTTP/2.0},
 *       which is not the HTTP/2 preface), which Vert.x answers 501 with an empty body before any
 *       handler runs: it is marked and let through as HTTP/1.1, so the server answers it like every
 *       other error (505 with a JSON body).
 * </ul>
 */
final class VersionCheck extends ChannelInboundHandlerAdapter {
  static final String NAME = "zwVersionCheck";

  /**
   * The header that carries the version the client sent; set only here (a client's own is removed).
   */
  static final String MARK = "X-Zen-Watcher-Unsupported-Version";

  /** Set on the channel once a request head was read (here, or by the server if it came first). */
  static final AttributeKey<Boolean> HEAD_SEEN = AttributeKey.valueOf("zw.headSeen");

  /** Marks that the connection of {@code channel} sent a complete request head. */
  static void headSeen(io.netty.channel.Channel channel) {
    channel.attr(HEAD_SEEN).set(Boolean.TRUE);
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (msg instanceof HttpRequest r) {
      headSeen(ctx.channel());
      r.headers().remove(MARK);
      HttpVersion v = r.protocolVersion();
      if (!HttpVersion.HTTP_1_1.equals(v) && !HttpVersion.HTTP_1_0.equals(v)) {
        r.setProtocolVersion(HttpVersion.HTTP_1_1);
        r.headers().set(MARK, String.valueOf(v.text()));
      }
    }
    ctx.fireChannelRead(msg);
  }
}
