package io.kubezen.watcher.config;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;

/**
 * One setting, declared once: its environment variable, where the docs list it, the value used when
 * it is unset, what is allowed, what it means, whether its value is secret, and how its text is
 * parsed and checked. {@link SettingCatalog} holds every declaration; {@link Settings#fromEnv}
 * reads them; {@link SettingsDoc} writes the tables of docs/configuration.md from them.
 *
 * <p>The parser throws {@link IllegalArgumentException} with a message that says what is allowed
 * ("must be between 1 and 65535"); the reader prefixes the setting's name (and the value, unless
 * the setting is secret).
 *
 * @param name the environment variable; a family of variables ends with {@code <SOURCE>} ({@code
 *     WEBHOOK_MAX_BODY_BYTES_<SOURCE>})
 * @param section the docs table the setting is listed in
 * @param defaultValue the text used when the variable is unset or blank; null when unset means
 *     "none" (an {@link java.util.Optional}) or when the default is computed at read time
 * @param defaultDoc the default as the docs show it (Markdown)
 * @param allowedDoc the allowed values as the docs show them (Markdown)
 * @param description what the setting does (Markdown, one paragraph)
 * @param secret its value is never put in a message or a log line
 * @param parser text to value; throws IllegalArgumentException saying what is allowed
 */
public record Setting<T>(
    String name,
    Section section,
    String defaultValue,
    String defaultDoc,
    String allowedDoc,
    String description,
    boolean secret,
    Function<String, T> parser) {

  /** The tables of docs/configuration.md, in page order; each has its marker comments there. */
  public enum Section {
    GENERAL("general"),
    KUBERNETES("kubernetes"),
    HIGH_AVAILABILITY("high-availability"),
    POSTGRES("postgres"),
    STANDALONE_INGESTERS("standalone-ingesters");

    private final String id;

    Section(String id) {
      this.id = id;
    }

    /** The name in the doc's markers: {@code <!-- settings:ID -->}. */
    public String id() {
      return id;
    }
  }

  /** The placeholder a family's name ends with. */
  public static final String SOURCE_PLACEHOLDER = "<SOURCE>";

  public Setting {
    if (!name.matches("[A-Z][A-Z0-9_]*(<SOURCE>)?")) {
      throw new IllegalArgumentException("not a setting name: " + name);
    }
  }

  /** A family: one variable per source ({@code WEBHOOK_MAX_BODY_BYTES_<SOURCE>}). */
  public boolean isFamily() {
    return name.endsWith(SOURCE_PLACEHOLDER);
  }

  /** A family's common prefix ({@code WEBHOOK_MAX_BODY_BYTES_}); the name itself otherwise. */
  public String prefix() {
    return isFamily() ? name.substring(0, name.length() - SOURCE_PLACEHOLDER.length()) : name;
  }

  /**
   * Whether the environment variable {@code env} is this setting (or one member of this family).
   */
  public boolean names(String env) {
    return isFamily()
        ? env.startsWith(prefix()) && env.length() > prefix().length()
        : env.equals(name);
  }

  public T parse(String text) {
    return parser.apply(text);
  }

  // ---- withers: the docs' text where the generated one is not enough ------------------------

  /** The same, with the docs showing this default (Markdown). */
  public Setting<T> shownDefault(String markdown) {
    return new Setting<>(
        name, section, defaultValue, markdown, allowedDoc, description, secret, parser);
  }

  /** The same, with the docs showing these allowed values (Markdown). */
  public Setting<T> shownAllowed(String markdown) {
    return new Setting<>(
        name, section, defaultValue, defaultDoc, markdown, description, secret, parser);
  }

  /** The same, its value never shown in a message. */
  public Setting<T> secretValue() {
    return new Setting<>(
        name, section, defaultValue, defaultDoc, allowedDoc, description, true, parser);
  }

  // ---- the kinds of setting ------------------------------------------------------------------

  /** A whole number in [min, max]. */
  public static Setting<Long> whole(
      String name, Section section, long defaultValue, long min, long max, String description) {
    return new Setting<>(
        name,
        section,
        Long.toString(defaultValue),
        code(Long.toString(defaultValue)),
        min + "–" + max,
        description,
        false,
        v -> wholeIn(v, min, max));
  }

  /**
   * A duration ({@code 500ms}, {@code 15s}, {@code 1m}, {@code 1h}, or a number of seconds) in
   * [min, max].
   */
  public static Setting<Duration> duration(
      String name,
      Section section,
      String defaultValue,
      Duration min,
      Duration max,
      String description) {
    return new Setting<>(
        name,
        section,
        defaultValue,
        code(defaultValue),
        human(min) + "–" + human(max),
        description,
        false,
        v -> {
          Duration d = parseDuration(v);
          if (d.compareTo(min) < 0 || d.compareTo(max) > 0) {
            throw new IllegalArgumentException(
                "must be between " + human(min) + " and " + human(max));
          }
          return d;
        });
  }

  /** One constant of an enum, case-insensitive; null default: computed at read time. */
  public static <E extends Enum<E>> Setting<E> choice(
      String name, Section section, Class<E> type, E defaultValue, String description) {
    List<String> allowed = new ArrayList<>();
    for (E c : type.getEnumConstants()) {
      allowed.add(c.name().toLowerCase(Locale.ROOT));
    }
    String def = defaultValue == null ? null : defaultValue.name().toLowerCase(Locale.ROOT);
    return new Setting<>(
        name,
        section,
        def,
        def == null ? "" : code(def),
        codes(allowed),
        description,
        false,
        v -> {
          try {
            return Enum.valueOf(type, v.toUpperCase(Locale.ROOT));
          } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("must be one of " + String.join(", ", allowed));
          }
        });
  }

  /** One word of a list, case-insensitive, returned in lower case. */
  public static Setting<String> oneOf(
      String name, Section section, String defaultValue, List<String> allowed, String description) {
    return new Setting<>(
        name,
        section,
        defaultValue,
        code(defaultValue),
        codes(allowed),
        description,
        false,
        v -> {
          String l = v.toLowerCase(Locale.ROOT);
          if (!allowed.contains(l)) {
            throw new IllegalArgumentException("must be one of " + String.join(", ", allowed));
          }
          return l;
        });
  }

  /** true or false (also 1/0, yes/no). */
  public static Setting<Boolean> flag(
      String name, Section section, boolean defaultValue, String description) {
    return new Setting<>(
        name,
        section,
        Boolean.toString(defaultValue),
        code(Boolean.toString(defaultValue)),
        "`true`, `false`",
        description,
        false,
        s ->
            switch (s.toLowerCase(Locale.ROOT)) {
              case "true", "1", "yes" -> true;
              case "false", "0", "no" -> false;
              default -> throw new IllegalArgumentException("must be true or false");
            });
  }

  /**
   * Any other value: its docs text and its parser given. defaultValue null: none, or computed at
   * read time.
   */
  public static <T> Setting<T> text(
      String name,
      Section section,
      String defaultValue,
      String allowedDoc,
      String description,
      Function<String, T> parser) {
    return new Setting<>(
        name,
        section,
        defaultValue,
        defaultValue == null ? "none" : code(defaultValue),
        allowedDoc,
        description,
        false,
        parser);
  }

  // ---- shared parsing ------------------------------------------------------------------------

  static long wholeIn(String s, long min, long max) {
    long l;
    try {
      l = Long.parseLong(s);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("must be a whole number");
    }
    if (l < min || l > max) {
      throw new IllegalArgumentException("must be between " + min + " and " + max);
    }
    return l;
  }

  /**
   * A duration: a whole number with a unit ({@code 500ms}, {@code 15s}, {@code 1m}, {@code 1h}), or
   * a plain number of seconds.
   */
  public static Duration parseDuration(String v) {
    java.util.regex.Matcher m =
        java.util.regex.Pattern.compile("^(\\d{1,9})(ms|s|m|h)?$")
            .matcher(v.trim().toLowerCase(Locale.ROOT));
    if (!m.matches()) {
      throw new IllegalArgumentException(
          "must be a duration like 500ms, 15s, 1m or a number of seconds");
    }
    long n = Long.parseLong(m.group(1));
    String unit = m.group(2) == null ? "s" : m.group(2);
    return switch (unit) {
      case "ms" -> Duration.ofMillis(n);
      case "m" -> Duration.ofMinutes(n);
      case "h" -> Duration.ofHours(n);
      default -> Duration.ofSeconds(n);
    };
  }

  /** 10s, 100ms, 10m, 1h: the largest whole unit. */
  static String human(Duration d) {
    long ms = d.toMillis();
    if (ms % 3_600_000 == 0) {
      return ms / 3_600_000 + "h";
    }
    if (ms % 60_000 == 0) {
      return ms / 60_000 + "m";
    }
    return ms % 1000 == 0 ? ms / 1000 + "s" : ms + "ms";
  }

  static String code(String text) {
    return "`" + text + "`";
  }

  static String codes(List<String> words) {
    List<String> out = new ArrayList<>();
    for (String w : words) {
      out.add(code(w));
    }
    return String.join(", ", out);
  }
}
