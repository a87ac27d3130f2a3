package io.kubezen.watcher.kube;

import io.fabric8.kubernetes.client.http.AsyncBody;
import io.fabric8.kubernetes.client.http.BasicBuilder;
import io.fabric8.kubernetes.client.http.HttpRequest;
import io.fabric8.kubernetes.client.http.HttpResponse;
import io.fabric8.kubernetes.client.http.Interceptor;
import java.nio.ByteBuffer;
import java.util.List;

/**
 * Counts every request of a fabric8 client, by verb, resource and answer code, with its latency
 * (the model: the Flink Kubernetes operator's {@code KubernetesClientMetrics}). Installed on the
 * client with {@code withHttpClientBuilderConsumer(b -> b.addOrReplaceInterceptor(NAME, it))}, so
 * nothing the program does with the client escapes it: writes, reads, lists, watches, Leases.
 */
public final class ApiRequestMetrics implements Interceptor {
  public static final String NAME = "zen-watcher-metrics";

  /** Where a request is reported. */
  @FunctionalInterface
  public interface Sink {
    void request(String verb, String resource, String code, long nanos);
  }

  /**
   * A request header carrying the time the request was sent (the request object is rebuilt after
   * {@link #before}).
   */
  static final String START_HEADER = "X-Zen-Watcher-Sent";

  private final Sink sink;

  public ApiRequestMetrics(Sink sink) {
    this.sink = sink;
  }

  @Override
  public void before(BasicBuilder builder, HttpRequest request, RequestTags tags) {
    builder.setHeader(START_HEADER, Long.toString(System.nanoTime()));
  }

  @Override
  public void after(
      HttpRequest request,
      HttpResponse<?> response,
      AsyncBody.Consumer<List<ByteBuffer>> consumer) {
    report(request, Integer.toString(response.code()));
  }

  @Override
  public void afterConnectionFailure(HttpRequest request, Throwable failure) {
    report(request, "error");
  }

  private void report(HttpRequest request, String code) {
    long nanos = 0;
    String sent = request.header(START_HEADER);
    if (sent != null) {
      try {
        nanos = Math.max(0, System.nanoTime() - Long.parseLong(sent));
      } catch (NumberFormatException ignored) {
        // not ours
      }
    }
    sink.request(
        verb(request.method(), request.uri().getRawPath(), request.uri().getRawQuery()),
        resource(request.uri().getRawPath()),
        code,
        nanos);
  }

  /**
   * The Kubernetes verb of a request: a GET of a collection is {@code list}, or {@code watch} with
   * {@code watch=true}; a DELETE of a collection is {@code deletecollection}.
   */
  static String verb(String method, String path, String query) {
    boolean collection = isCollection(path);
    return switch (method) {
      case "GET" ->
          query != null && (query.contains("watch=true") || query.contains("watch=1"))
              ? "watch"
              : collection ? "list" : "get";
      case "POST" -> "create";
      case "PUT" -> "update";
      case "PATCH" -> "patch";
      case "DELETE" -> collection ? "deletecollection" : "delete";
      default -> method.toLowerCase(java.util.Locale.ROOT);
    };
  }

  /**
   * The resource a path names ({@code observations}, {@code observations/status}, {@code leases}),
   * or {@code other} for paths outside the API (discovery, version).
   */
  static String resource(String path) {
    String[] p = parts(path);
    int i = resourceIndex(p);
    if (i < 0 || i >= p.length) {
      return "other";
    }
    // .../<resource>/<name>/<subresource>
    return i + 2 < p.length ? p[i] + "/" + p[i + 2] : p[i];
  }

  private static boolean isCollection(String path) {
    String[] p = parts(path);
    int i = resourceIndex(p);
    return i >= 0 && i == p.length - 1;
  }

  /** The index of the resource segment: after /api/v1 or /apis/group/version, and namespaces/ns. */
  private static int resourceIndex(String[] p) {
    int i;
    if (p.length >= 2 && p[0].equals("api")) {
      i = 2;
    } else if (p.length >= 3 && p[0].equals("apis")) {
      i = 3;
    } else {
      return -1;
    }
    if (p.length > i + 2 && p[i].equals("namespaces")) {
      i += 2; // a namespaced resource (a path of exactly namespaces/<name> is the Namespace itself)
    }
    return i < p.length ? i : -1;
  }

  private static String[] parts(String path) {
    String trimmed = path == null ? "" : path.replaceAll("^/+|/+$", "");
    return trimmed.isEmpty() ? new String[0] : trimmed.split("/");
  }
}
