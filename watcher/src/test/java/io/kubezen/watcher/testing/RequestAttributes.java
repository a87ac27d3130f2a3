package io.kubezen.watcher.testing;

import java.io.ByteArrayOutputStream;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * What the API server authorizes a request as: the attributes k8s.io/apiserver's RequestInfoFactory
 * derives from the HTTP method and URL, and RBAC matches rules against.
 *
 * <p>A resource request always has a non-empty {@code resource}. A non-resource request (discovery
 * such as {@code /apis}, {@code /version}, {@code /healthz}) has an empty resource, the lower-case
 * HTTP method as verb, and its URL path in {@code name} (read it with {@link #path()}).
 *
 * <p>Nulls become empty strings; an empty namespace means the cluster scope (every namespace for a
 * list or watch of a namespaced resource).
 */
public record RequestAttributes(
    String verb,
    String apiGroup,
    String resource,
    String subresource,
    String namespace,
    String name) {

  /**
   * Path segments that name a verb rather than a resource (legacy {@code /watch/...}, {@code
   * /proxy/...}).
   */
  private static final Set<String> SPECIAL_VERBS = Set.of("proxy", "watch");

  /**
   * Path segments after {@code /namespaces/{name}} that are subresources of the namespace itself.
   */
  private static final Set<String> NAMESPACE_SUBRESOURCES = Set.of("status", "finalize");

  public RequestAttributes {
    verb = verb == null ? "" : verb;
    apiGroup = apiGroup == null ? "" : apiGroup;
    resource = resource == null ? "" : resource;
    subresource = subresource == null ? "" : subresource;
    namespace = namespace == null ? "" : namespace;
    name = name == null ? "" : name;
  }

  /** A resource request's attributes. */
  public static RequestAttributes resource(
      String verb,
      String apiGroup,
      String resource,
      String subresource,
      String namespace,
      String name) {
    if (resource == null || resource.isEmpty()) {
      throw new IllegalArgumentException("a resource request needs a resource");
    }
    return new RequestAttributes(verb, apiGroup, resource, subresource, namespace, name);
  }

  /** A non-resource request: {@code verb} is the lower-case HTTP method. */
  public static RequestAttributes nonResource(String verb, String path) {
    return new RequestAttributes(verb, "", "", "", "", path);
  }

  public boolean isResourceRequest() {
    return !resource.isEmpty();
  }

  /** The URL path of a non-resource request; empty for a resource request. */
  public String path() {
    return isResourceRequest() ? "" : name;
  }

  /** {@code resource} or {@code resource/subresource}: what an RBAC rule's resources list names. */
  public String combinedResource() {
    return subresource.isEmpty() ? resource : resource + "/" + subresource;
  }

  /**
   * Maps an HTTP request to its attributes as the kube-apiserver does (RequestInfoFactory with
   * prefixes {@code api} (group-less) and {@code apis}).
   *
   * @param method the HTTP method (GET, POST, ...)
   * @param pathWithQuery the request target, e.g. {@code /apis/g/v1/namespaces/a/things?watch=true}
   * @throws IllegalArgumentException for a legacy verb path without a resource ({@code
   *     /api/v1/watch})
   */
  public static RequestAttributes parse(String method, String pathWithQuery) {
    String upper = method.toUpperCase(Locale.ROOT);
    int q = pathWithQuery.indexOf('?');
    String rawPath = q < 0 ? pathWithQuery : pathWithQuery.substring(0, q);
    String query = q < 0 ? "" : pathWithQuery.substring(q + 1);
    String path = decodePath(rawPath);
    List<String> parts = splitPath(path);
    RequestAttributes nonResource = nonResource(upper.toLowerCase(Locale.ROOT), path);

    if (parts.size() < 3 || !(parts.get(0).equals("api") || parts.get(0).equals("apis"))) {
      return nonResource;
    }
    String group = "";
    List<String> rest = parts.subList(1, parts.size());
    if (parts.get(0).equals("apis")) {
      if (rest.size() < 3) {
        return nonResource; // /apis/{group}/{version}
      }
      group = rest.get(0);
      rest = rest.subList(1, rest.size());
    }
    rest = rest.subList(1, rest.size()); // the version

    String verb;
    if (SPECIAL_VERBS.contains(rest.get(0))) {
      if (rest.size() < 2) {
        throw new IllegalArgumentException(
            "unable to determine kind and namespace from url " + pathWithQuery);
      }
      verb = rest.get(0);
      rest = rest.subList(1, rest.size());
    } else {
      verb =
          switch (upper) {
            case "POST" -> "create";
            case "GET", "HEAD" -> "get";
            case "PUT" -> "update";
            case "PATCH" -> "patch";
            case "DELETE" -> "delete";
            default -> "";
          };
    }

    String namespace = "";
    if (rest.get(0).equals("namespaces") && rest.size() > 1) {
      namespace = rest.get(1);
      if (rest.size() > 2 && !NAMESPACE_SUBRESOURCES.contains(rest.get(2))) {
        rest = rest.subList(2, rest.size());
      }
    }

    String resource = rest.get(0);
    String name = rest.size() >= 2 ? rest.get(1) : "";
    String subresource = rest.size() >= 3 && !verb.equals("proxy") ? rest.get(2) : "";

    if (name.isEmpty() && verb.equals("get")) {
      List<String> watch = queryValues(query, "watch");
      boolean isWatch =
          !watch.isEmpty() && !Set.of("false", "0").contains(watch.get(0).toLowerCase(Locale.ROOT));
      verb = isWatch ? "watch" : "list";
      List<String> fieldSelector = queryValues(query, "fieldSelector");
      if (!fieldSelector.isEmpty()) {
        String selected = exactName(fieldSelector.get(0));
        if (selected != null && validPathSegmentName(selected)) {
          name = selected;
        }
      }
    }
    if (name.isEmpty() && verb.equals("delete")) {
      verb = "deletecollection";
    }
    return new RequestAttributes(verb, group, resource, subresource, namespace, name);
  }

  private static List<String> splitPath(String path) {
    String trimmed = path;
    while (trimmed.startsWith("/")) {
      trimmed = trimmed.substring(1);
    }
    while (trimmed.endsWith("/")) {
      trimmed = trimmed.substring(0, trimmed.length() - 1);
    }
    return trimmed.isEmpty() ? List.of() : Arrays.asList(trimmed.split("/", -1));
  }

  /** Percent-decoding of a URL path ({@code +} stays a plus, as in Go's url.URL.Path). */
  private static String decodePath(String raw) {
    if (raw.indexOf('%') < 0) {
      return raw;
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (int i = 0; i < raw.length(); i++) {
      char c = raw.charAt(i);
      if (c == '%' && i + 2 < raw.length()) {
        int hi = Character.digit(raw.charAt(i + 1), 16);
        int lo = Character.digit(raw.charAt(i + 2), 16);
        if (hi >= 0 && lo >= 0) {
          out.write(hi * 16 + lo);
          i += 2;
          continue;
        }
      }
      int cp = raw.codePointAt(i);
      byte[] bytes = new String(Character.toChars(cp)).getBytes(StandardCharsets.UTF_8);
      out.write(bytes, 0, bytes.length);
      i += Character.charCount(cp) - 1;
    }
    return out.toString(StandardCharsets.UTF_8);
  }

  private static List<String> queryValues(String query, String key) {
    List<String> values = new ArrayList<>();
    if (query.isEmpty()) {
      return values;
    }
    for (String pair : query.split("&")) {
      if (pair.isEmpty()) {
        continue;
      }
      int eq = pair.indexOf('=');
      String k = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
      if (k.equals(key)) {
        values.add(eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
      }
    }
    return values;
  }

  /**
   * The value a field selector requires {@code metadata.name} to equal ({@code metadata.name=x} or
   * {@code ==x} among its comma-separated terms, with {@code \} escapes), or null.
   */
  static String exactName(String selector) {
    for (String term : splitTerms(selector)) {
      if (term.isEmpty()) {
        continue;
      }
      String[] split = splitTerm(term);
      if (split == null) {
        return null; // a selector that does not parse: the server ignores it for authorization
      }
      if (split[0].equals("metadata.name") && !split[1].equals("!=")) {
        return unescape(split[2]);
      }
    }
    return null;
  }

  private static List<String> splitTerms(String selector) {
    List<String> terms = new ArrayList<>();
    StringBuilder current = new StringBuilder();
    boolean escaped = false;
    for (char c : selector.toCharArray()) {
      if (escaped) {
        current.append(c);
        escaped = false;
      } else if (c == '\\') {
        current.append(c);
        escaped = true;
      } else if (c == ',') {
        terms.add(current.toString());
        current.setLength(0);
      } else {
        current.append(c);
      }
    }
    terms.add(current.toString());
    return terms;
  }

  /**
   * {lhs, operator, rhs}, the first operator found left to right, trying != then == then = at each
   * place.
   */
  private static String[] splitTerm(String term) {
    for (int i = 0; i < term.length(); i++) {
      for (String op : List.of("!=", "==", "=")) {
        if (term.startsWith(op, i)) {
          return new String[] {term.substring(0, i), op, term.substring(i + op.length())};
        }
      }
    }
    return null;
  }

  private static String unescape(String value) {
    StringBuilder out = new StringBuilder();
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if (c == '\\') {
        if (i + 1 >= value.length() || "\\,=".indexOf(value.charAt(i + 1)) < 0) {
          return null;
        }
        out.append(value.charAt(++i));
      } else {
        out.append(c);
      }
    }
    return out.toString();
  }

  /** apimachinery's path.IsValidPathSegmentName: not . or .., no / and no %. */
  private static boolean validPathSegmentName(String name) {
    return !name.isEmpty()
        && !name.equals(".")
        && !name.equals("..")
        && name.indexOf('/') < 0
        && name.indexOf('%') < 0;
  }
}
