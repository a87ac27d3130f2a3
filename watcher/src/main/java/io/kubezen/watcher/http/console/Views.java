package io.kubezen.watcher.http.console;

import java.util.List;

/**
 * What the templates show: plain records, every text in them raw (the templates escape it). Built
 * by {@link Pages} from store answers.
 */
public final class Views {
  private Views() {}

  /** What every page's frame needs. {@code tag} is the store state the page shows (live check). */
  public record Frame(
      String title,
      String active,
      String asOf,
      String tag,
      String assetVersion,
      boolean live,
      List<String> clusters,
      boolean signOut) {}

  /**
   * The sign-in page (READ_AUTH=token): {@code next} is a local path, {@code error} null or what
   * went wrong.
   */
  public record Login(String assetVersion, String next, String error, long hours) {}

  public record Link(String label, long n, String url) {}

  public record Cell(long n, String url) {}

  public record MatrixRow(String source, List<Cell> cells, Cell total) {}

  public record Ranked(
      String label,
      String sub,
      long critical,
      long high,
      long total,
      String url,
      String criticalUrl,
      String highUrl) {}

  public record Bar(int x, int width, int y, int height, String kind, String title, String url) {}

  public record Tick(int y, String label) {}

  public record XLabel(int x, String label) {}

  /** A new-versus-resolved bar chart, drawn as SVG by the template. */
  public record Chart(
      String range,
      List<Link> ranges,
      int width,
      int height,
      List<Bar> bars,
      List<Tick> ticks,
      List<XLabel> xLabels,
      long opened,
      long resolved,
      String description,
      String openedUrl,
      String resolvedUrl) {}

  public record SourceLine(
      String source,
      String lastSeen,
      String ago,
      long open,
      long total,
      boolean quiet,
      String url,
      String openUrl) {}

  public record Overview(
      Frame frame,
      List<String> severities,
      List<MatrixRow> matrix,
      List<Cell> severityTotals,
      Cell openTotal,
      List<Link> categories,
      List<Ranked> namespaces,
      List<Ranked> resources,
      Chart chart,
      List<SourceLine> sources,
      List<Link> clusterLinks,
      long resolvedTotal,
      String resolvedUrl) {}

  /** One finding in a list. */
  public record Row(
      String namespace,
      String name,
      String source,
      String severity,
      String category,
      String eventType,
      String title,
      String resource,
      String resourceUrl,
      long count,
      String firstSeen,
      String lastSeen,
      boolean resolved,
      String resolvedAt,
      String cluster,
      String url) {}

  public record Option(String value, String label, boolean selected) {}

  public record Select(String name, String label, List<Option> options) {}

  public record FindingsList(
      Frame frame,
      ConsoleQuery query,
      List<Select> selects,
      List<Row> rows,
      String nextUrl,
      String firstUrl,
      String csvUrl,
      String jsonUrl,
      String reportUrl,
      List<Link> sorts,
      List<Link> active,
      String clearUrl) {}

  public record DetailField(String key, String value, String url, boolean code) {}

  public record Detail(
      Frame frame,
      Row row,
      List<DetailField> spec,
      List<DetailField> details,
      List<Row> related,
      String json) {}

  public record Group(String source, List<Row> rows) {}

  public record Resource(
      Frame frame,
      String heading,
      String kind,
      String namespace,
      String name,
      List<Group> groups,
      long shown,
      boolean truncated,
      String listUrl,
      List<Link> severities) {}

  /**
   * A watched source: its engine status, its state (active, waiting, inactive) and its last finding
   * (or null).
   */
  public record SourceStatus(String name, String status, String state, SourceLine last) {}

  /** An Ingester's Ready condition; {@code state} is the badge (active, inactive, waiting). */
  public record IngesterRow(
      String name,
      String origin,
      String type,
      String source,
      String status,
      String state,
      String reason,
      String message,
      String since,
      String ago,
      String sourceUrl) {}

  public record Sources(
      Frame frame,
      List<DetailField> replica,
      List<SourceStatus> watched,
      List<SourceLine> activity,
      List<DetailField> other,
      List<IngesterRow> ingesters,
      String ingestersProblem) {}

  public record Report(
      Frame frame,
      ConsoleQuery query,
      String generated,
      List<Link> bySeverity,
      List<Row> rows,
      long total,
      boolean truncated,
      List<Link> filters,
      String listUrl) {}
}
