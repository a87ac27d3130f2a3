package io.kubezen.watcher.config;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Writes the settings tables of docs/configuration.md from {@link SettingCatalog}. The page keeps
 * its hand-written prose; each table sits between two markers, which this replaces:
 *
 * <pre>
 * &lt;!-- settings:general (generated ...) --&gt;
 * | Variable | Default | Allowed | Meaning |
 * ...
 * &lt;!-- end settings:general --&gt;
 * </pre>
 *
 * Run {@link #COMMAND} from the repository root after changing a declaration; SettingsDocTest fails
 * while the committed page differs.
 */
public final class SettingsDoc {
  private SettingsDoc() {}

  /** The command that regenerates the page, from the repository root. */
  public static final String COMMAND =
      "./mvnw -B -ntp -o -q -pl watcher compile exec:java"
          + " -Dexec.mainClass=io.kubezen.watcher.config.SettingsDoc";

  private static final Pattern BLOCK =
      Pattern.compile("(?s)<!-- settings:([a-z-]+)[^>]*-->\\n.*?<!-- end settings:\\1 -->");

  /** The page with every marked table replaced by the one generated from the declarations. */
  public static String render(String page) {
    for (Setting.Section section : Setting.Section.values()) {
      if (!page.contains("<!-- settings:" + section.id() + " ")) {
        throw new IllegalArgumentException(
            "docs/configuration.md has no marker <!-- settings:"
                + section.id()
                + " ... --> for the section "
                + section);
      }
    }
    Matcher m = BLOCK.matcher(page);
    StringBuilder out = new StringBuilder();
    while (m.find()) {
      Setting.Section section = sectionOf(m.group(1));
      m.appendReplacement(out, Matcher.quoteReplacement(block(section)));
    }
    m.appendTail(out);
    return out.toString();
  }

  /** One section's table with its markers. */
  static String block(Setting.Section section) {
    StringBuilder b = new StringBuilder();
    b.append("<!-- settings:")
        .append(section.id())
        .append(" (generated from SettingCatalog.java: edit the declarations there, then run ")
        .append(COMMAND)
        .append(") -->\n");
    b.append("| Variable | Default | Allowed | Meaning |\n");
    b.append("|---|---|---|---|\n");
    for (Setting<?> s : SettingCatalog.ALL) {
      if (s.section() == section) {
        b.append("| `")
            .append(s.name())
            .append("` | ")
            .append(cell(s.defaultDoc()))
            .append(" | ")
            .append(cell(s.allowedDoc()))
            .append(" | ")
            .append(cell(s.description()))
            .append(" |\n");
      }
    }
    b.append("<!-- end settings:").append(section.id()).append(" -->");
    return b.toString();
  }

  private static String cell(String markdown) {
    return markdown.replace("\n", " ").replace("|", "\\|");
  }

  private static Setting.Section sectionOf(String id) {
    for (Setting.Section s : Setting.Section.values()) {
      if (s.id().equals(id)) {
        return s;
      }
    }
    throw new IllegalArgumentException(
        "docs/configuration.md: unknown settings section '" + id + "'");
  }

  /**
   * The page: the argument, else docs/configuration.md in the working directory or a parent of it.
   */
  static Path page(String[] args) {
    if (args.length > 0) {
      return Path.of(args[0]);
    }
    for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
      Path p = dir.resolve("docs/configuration.md");
      if (Files.isRegularFile(p)) {
        return p;
      }
    }
    throw new IllegalStateException(
        "no docs/configuration.md in the working directory or above it");
  }

  public static void main(String[] args) throws IOException {
    Path page = page(args);
    String before = Files.readString(page);
    String after = render(before);
    if (after.equals(before)) {
      System.out.println(page + ": up to date");
    } else {
      Files.writeString(page, after);
      System.out.println(page + ": settings tables rewritten");
    }
  }
}
