package io.kubezen.watcher.model;

import java.util.regex.Pattern;

/**
 * The API server's rules for names, checked before anything taken from input becomes part of an
 * object's metadata. Pure.
 */
public final class KubeNames {
  private static final Pattern DNS1123_LABEL = Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
  private static final Pattern DNS1123_SUBDOMAIN =
      Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");
  private static final Pattern LABEL_VALUE =
      Pattern.compile("(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?");

  /** Text taken from input into a resource reference is cut at this many characters. */
  public static final int MAX_TEXT = Details.MAX_STRING;

  private KubeNames() {}

  /** A namespace name: a DNS-1123 label of at most 63 characters. */
  public static boolean isNamespace(String s) {
    return s != null && s.length() <= 63 && DNS1123_LABEL.matcher(s).matches();
  }

  /** An object name (most kinds): a DNS-1123 subdomain of at most 253 characters. */
  public static boolean isObjectName(String s) {
    return s != null && s.length() <= 253 && DNS1123_SUBDOMAIN.matcher(s).matches();
  }

  /** A label value: at most 63 characters, alphanumerics with '-', '_' and '.' inside, or empty. */
  public static boolean isLabelValue(String s) {
    return s != null && s.length() <= 63 && LABEL_VALUE.matcher(s).matches();
  }

  /** {@code s} cut at {@link #MAX_TEXT} characters (null stays null). */
  public static String cut(String s) {
    return s == null || s.length() <= MAX_TEXT ? s : s.substring(0, MAX_TEXT - 1) + "…";
  }
}
