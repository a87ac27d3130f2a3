package io.kubezen.watcher.http.console;

import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.api.v1alpha1.ObservationSpec;
import io.kubezen.api.v1alpha1.ObservationStatus;
import io.kubezen.api.v1alpha1.ResourceRef;
import io.kubezen.api.v1alpha1.Severity;
import io.kubezen.watcher.http.console.Views.Bar;
import io.kubezen.watcher.http.console.Views.Cell;
import io.kubezen.watcher.http.console.Views.Chart;
import io.kubezen.watcher.http.console.Views.DetailField;
import io.kubezen.watcher.http.console.Views.Frame;
import io.kubezen.watcher.http.console.Views.Link;
import io.kubezen.watcher.http.console.Views.MatrixRow;
import io.kubezen.watcher.http.console.Views.Option;
import io.kubezen.watcher.http.console.Views.Ranked;
import io.kubezen.watcher.http.console.Views.Row;
import io.kubezen.watcher.http.console.Views.Select;
import io.kubezen.watcher.http.console.Views.SourceLine;
import io.kubezen.watcher.http.console.Views.Tick;
import io.kubezen.watcher.http.console.Views.XLabel;
import io.kubezen.watcher.model.Json;
import io.kubezen.watcher.store.FindingFilter;
import io.kubezen.watcher.store.FindingSort;
import io.kubezen.watcher.store.FindingsQuery;
import io.kubezen.watcher.store.GroupCount;
import io.kubezen.watcher.store.GroupField;
import io.kubezen.watcher.store.ObservationPage;
import io.kubezen.watcher.store.ObservationStore;
import io.kubezen.watcher.store.RankedGroup;
import io.kubezen.watcher.store.SourceActivity;
import io.kubezen.watcher.store.StoreSummary;
import io.kubezen.watcher.store.TimeBucket;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;

/** Builds each page's view from store reads. Blocking: called off the event loop. */
final class Pages {
  static final List<String> SEVERITIES = List.of("critical", "high", "medium", "low", "info");
  static final List<String> CATEGORIES =
      List.of("security", "compliance", "performance", "operations", "cost");

  /** A source whose newest finding is older than this is shown as quiet. */
  static final Duration QUIET_AFTER = Duration.ofHours(24);

  static final int TOP = 10;
  static final int RESOURCE_MAX = 500;
  static final int RELATED_MAX = 50;
  static final int REPORT_MAX = 1000;
  private static final DateTimeFormatter SHOWN =
      DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss 'UTC'", Locale.ROOT)
          .withZone(ZoneOffset.UTC);

  private final ObservationStore store;
  private final Clock clock;
  private final String assetVersion;
  private final Supplier<Map<String, Object>> readyDetails;
  private final String storeName;

  /** READ_AUTH=token: pages show a sign-out button. */
  volatile boolean signOut;

  Pages(
      ObservationStore store,
      Clock clock,
      String assetVersion,
      Supplier<Map<String, Object>> readyDetails,
      String storeName) {
    this.store = store;
    this.clock = clock;
    this.assetVersion = assetVersion;
    this.readyDetails = readyDetails;
    this.storeName = storeName;
  }

  /**
   * The values a filter field has (for the list's drop-downs and the cluster names), remembered for
   * {@link #FACETS_FOR}: they change rarely, and counting them is a scan of an index.
   */
  static final Duration FACETS_FOR = Duration.ofSeconds(15);

  private record Facet(Instant until, List<String> values) {}

  private final Map<GroupField, Facet> facets = new java.util.concurrent.ConcurrentHashMap<>();

  List<String> facet(GroupField field) {
    Instant now = clock.instant();
    Facet f = facets.get(field);
    if (f == null || now.isAfter(f.until())) {
      List<String> out = new ArrayList<>();
      for (GroupCount g : store.countBy(FindingFilter.NONE, List.of(field))) {
        if (g.key(0) != null && out.size() < 500) {
          out.add(g.key(0));
        }
      }
      out.sort(null);
      f = new Facet(now.plus(FACETS_FOR), List.copyOf(out));
      facets.put(field, f);
    }
    return f.values();
  }

  Frame frame(String title, String active, boolean live) {
    StoreSummary s = store.summary();
    return frame(title, active, live, s);
  }

  Frame frame(String title, String active, boolean live, StoreSummary s) {
    return new Frame(
        title,
        active,
        SHOWN.format(clock.instant()),
        s.tag(),
        assetVersion,
        live,
        facet(GroupField.CLUSTER),
        signOut);
  }

  // ---------------------------------------------------------------- overview

  /**
   * The last overview, reused while the store's state tag, the range and the minute are the same.
   */
  private record OverviewKey(String tag, String range, long minute) {}

  private volatile Map.Entry<OverviewKey, Views.Overview> lastOverview;

  Views.Overview overview(String range) {
    StoreSummary summary = store.summary();
    Instant now = clock.instant();
    OverviewKey key =
        new OverviewKey(summary.tag(), range == null ? "" : range, now.getEpochSecond() / 60);
    Map.Entry<OverviewKey, Views.Overview> last = lastOverview;
    if (last != null && last.getKey().equals(key)) {
      Views.Overview o = last.getValue();
      return new Views.Overview(
          frame("Overview", "overview", true, summary),
          o.severities(),
          o.matrix(),
          o.severityTotals(),
          o.openTotal(),
          o.categories(),
          o.namespaces(),
          o.resources(),
          o.chart(),
          o.sources(),
          o.clusterLinks(),
          o.resolvedTotal(),
          o.resolvedUrl());
    }
    Views.Overview o = overview(range, now, summary);
    lastOverview = Map.entry(key, o);
    return o;
  }

  private Views.Overview overview(String range, Instant now, StoreSummary summary) {
    ConsoleQuery open = ConsoleQuery.EMPTY;
    FindingFilter openFilter = FindingFilter.OPEN;
    // One grouped read gives the source x severity matrix and the categories.
    List<GroupCount> counts =
        store.countBy(
            openFilter, List.of(GroupField.SOURCE, GroupField.SEVERITY, GroupField.CATEGORY));
    Map<String, Long> byCategory = new java.util.TreeMap<>();
    Map<String, long[]> bySource = new java.util.TreeMap<>();
    long[] totals = new long[SEVERITIES.size()];
    for (GroupCount g : counts) {
      String src = g.key(0) == null ? "" : g.key(0);
      int i = SEVERITIES.indexOf(g.key(1));
      if (i < 0) {
        continue;
      }
      bySource.computeIfAbsent(src, k -> new long[SEVERITIES.size()])[i] += g.count();
      totals[i] += g.count();
      byCategory.merge(String.valueOf(g.key(2)), g.count(), Long::sum);
    }
    List<MatrixRow> matrix = new ArrayList<>();
    long all = 0;
    for (Map.Entry<String, long[]> e : bySource.entrySet()) {
      ConsoleQuery q = open.with("source", e.getKey());
      List<Cell> cells = new ArrayList<>();
      long sum = 0;
      for (int i = 0; i < SEVERITIES.size(); i++) {
        cells.add(new Cell(e.getValue()[i], q.with("severity", SEVERITIES.get(i)).findingsUrl()));
        sum += e.getValue()[i];
      }
      matrix.add(new MatrixRow(e.getKey(), cells, new Cell(sum, q.findingsUrl())));
      all += sum;
    }
    List<Cell> severityTotals = new ArrayList<>();
    for (int i = 0; i < SEVERITIES.size(); i++) {
      severityTotals.add(
          new Cell(totals[i], open.with("severity", SEVERITIES.get(i)).findingsUrl()));
    }
    List<Link> categories = new ArrayList<>();
    byCategory.entrySet().stream()
        .sorted(Map.Entry.<String, Long>comparingByValue().reversed())
        .forEach(
            e ->
                categories.add(
                    new Link(
                        e.getKey(),
                        e.getValue(),
                        open.with("category", e.getKey()).findingsUrl())));
    List<Ranked> namespaces = new ArrayList<>();
    for (RankedGroup r : store.topByCriticalHigh(openFilter, RankedGroup.By.NAMESPACE, TOP)) {
      ConsoleQuery q = open.with("namespace", r.namespace());
      namespaces.add(
          new Ranked(
              r.namespace(),
              null,
              r.critical(),
              r.high(),
              r.total(),
              q.findingsUrl(),
              q.with("severity", "critical").findingsUrl(),
              q.with("severity", "high").findingsUrl()));
    }
    List<Ranked> resources = new ArrayList<>();
    for (RankedGroup r : store.topByCriticalHigh(openFilter, RankedGroup.By.RESOURCE, TOP)) {
      ConsoleQuery q =
          open.with("kind", r.kind()).with("namespace", r.namespace()).with("resource", r.name());
      resources.add(
          new Ranked(
              (r.kind() == null ? "" : r.kind() + "/") + r.name(),
              r.namespace(),
              r.critical(),
              r.high(),
              r.total(),
              resourceUrl(r.kind(), r.namespace(), r.name()),
              q.with("severity", "critical").findingsUrl(),
              q.with("severity", "high").findingsUrl()));
    }
    List<Link> clusterLinks = new ArrayList<>();
    for (GroupCount g : store.countBy(openFilter, List.of(GroupField.CLUSTER))) {
      if (g.key(0) != null) {
        clusterLinks.add(
            new Link(g.key(0), g.count(), open.with("cluster", g.key(0)).findingsUrl()));
      }
    }
    long resolved = summary.resolved();
    return new Views.Overview(
        frame("Overview", "overview", true, summary),
        SEVERITIES,
        matrix,
        severityTotals,
        new Cell(all, open.findingsUrl()),
        categories,
        namespaces,
        resources,
        chart(range, now),
        sourceLines(now),
        clusterLinks,
        resolved,
        open.with("state", "resolved").findingsUrl());
  }

  List<SourceLine> sourceLines(Instant now) {
    List<SourceLine> out = new ArrayList<>();
    for (SourceActivity a : store.sourceActivity(FindingFilter.NONE)) {
      boolean quiet = a.lastSeen().isBefore(now.minus(QUIET_AFTER));
      out.add(
          new SourceLine(
              a.source(),
              SHOWN.format(a.lastSeen()),
              ago(a.lastSeen(), now),
              a.open(),
              a.total(),
              quiet,
              ConsoleQuery.EMPTY.with("source", a.source()).with("state", "all").findingsUrl(),
              ConsoleQuery.EMPTY.with("source", a.source()).findingsUrl()));
    }
    return out;
  }

  static String ago(Instant t, Instant now) {
    long s = Math.max(0, Duration.between(t, now).getSeconds());
    if (s < 90) {
      return s + " s ago";
    }
    if (s < 90 * 60) {
      return (s / 60) + " min ago";
    }
    if (s < 36 * 3600) {
      return (s / 3600) + " h ago";
    }
    return (s / 86400) + " days ago";
  }

  static final int CHART_W = 720;
  static final int CHART_H = 180;
  static final int CHART_LEFT = 40;
  static final int CHART_BOTTOM = 20;
  static final int CHART_TOP = 12;

  Chart chart(String range, Instant now) {
    String r = range == null || !ConsoleQuery.SINCE.containsKey(range) ? "24h" : range;
    Duration span = ConsoleQuery.SINCE.get(r);
    Duration width =
        switch (r) {
          case "7d" -> Duration.ofHours(6);
          case "30d" -> Duration.ofDays(1);
          default -> Duration.ofHours(1);
        };
    Instant to = now.truncatedTo(ChronoUnit.HOURS).plus(Duration.ofHours(1));
    Instant from = to.minus(span);
    List<TimeBucket> buckets = store.timeline(FindingFilter.NONE, from, to, width);
    long max = 1;
    long opened = 0;
    long resolved = 0;
    for (TimeBucket b : buckets) {
      max = Math.max(max, Math.max(b.opened(), b.resolved()));
      opened += b.opened();
      resolved += b.resolved();
    }
    max = niceMax(max);
    int plotW = CHART_W - CHART_LEFT;
    int plotH = CHART_H - CHART_BOTTOM - CHART_TOP;
    double slot = (double) plotW / buckets.size();
    int barW = Math.max(1, (int) Math.floor(slot / 2) - 1);
    List<Bar> bars = new ArrayList<>();
    List<XLabel> xLabels = new ArrayList<>();
    DateTimeFormatter label =
        (r.equals("24h")
                ? DateTimeFormatter.ofPattern("HH:mm", Locale.ROOT)
                : DateTimeFormatter.ofPattern("MM-dd", Locale.ROOT))
            .withZone(ZoneOffset.UTC);
    int every = Math.max(1, buckets.size() / 6);
    for (int i = 0; i < buckets.size(); i++) {
      TimeBucket b = buckets.get(i);
      int x = CHART_LEFT + (int) Math.round(i * slot);
      int ho = (int) Math.round((double) b.opened() / max * plotH);
      int hr = (int) Math.round((double) b.resolved() / max * plotH);
      Instant end = b.start().plus(width);
      String when = SHOWN.format(b.start()) + " – " + SHOWN.format(end);
      String url =
          ConsoleQuery.EMPTY
              .with("state", "all")
              .with("firstFrom", b.start().toString())
              .with("firstTo", end.toString())
              .findingsUrl();
      bars.add(
          new Bar(
              x, barW, CHART_TOP + plotH - ho, ho, "opened", b.opened() + " new, " + when, url));
      bars.add(
          new Bar(
              x + barW + 1,
              barW,
              CHART_TOP + plotH - hr,
              hr,
              "resolved",
              b.resolved() + " resolved, " + when,
              ConsoleQuery.EMPTY
                  .with("state", "resolved")
                  .with("resolvedFrom", b.start().toString())
                  .with("resolvedTo", end.toString())
                  .findingsUrl()));
      if (i % every == 0) {
        xLabels.add(new XLabel(x, label.format(b.start())));
      }
    }
    List<Tick> ticks =
        List.of(
            new Tick(CHART_TOP, Long.toString(max)),
            new Tick(CHART_TOP + plotH / 2, max % 2 == 0 ? Long.toString(max / 2) : ""),
            new Tick(CHART_TOP + plotH, "0"));
    List<Link> ranges = new ArrayList<>();
    for (String k : ConsoleQuery.SINCE.keySet()) {
      ranges.add(new Link(k, k.equals(r) ? 1 : 0, "/?range=" + k));
    }
    String description =
        "New versus resolved findings over the last "
            + r
            + ": "
            + opened
            + " new, "
            + resolved
            + " resolved, per "
            + (width.toHours() >= 24 ? width.toDays() + " day" : width.toHours() + " h")
            + ".";
    return new Chart(
        r,
        ranges,
        CHART_W,
        CHART_H,
        bars,
        ticks,
        xLabels,
        opened,
        resolved,
        description,
        ConsoleQuery.EMPTY
            .with("state", "all")
            .with("firstFrom", from.toString())
            .with("firstTo", to.toString())
            .findingsUrl(),
        ConsoleQuery.EMPTY
            .with("state", "resolved")
            .with("resolvedFrom", from.toString())
            .with("resolvedTo", to.toString())
            .findingsUrl());
  }

  static long niceMax(long max) {
    long m = 1;
    while (m < max) {
      if (m * 2 >= max) {
        return m * 2;
      }
      if (m * 5 >= max) {
        return m * 5;
      }
      m *= 10;
    }
    return m;
  }

  // ---------------------------------------------------------------- findings list

  Views.FindingsList findings(ConsoleQuery q) {
    Instant now = clock.instant();
    ObservationPage page = store.findings(q.page(now));
    List<Row> rows = rows(page.items());
    List<Select> selects = new ArrayList<>();
    selects.add(select(q, "source", "Source", options(GroupField.SOURCE)));
    selects.add(select(q, "severity", "Severity", SEVERITIES));
    selects.add(select(q, "category", "Category", CATEGORIES));
    selects.add(select(q, "eventType", "Event type", options(GroupField.EVENT_TYPE)));
    selects.add(select(q, "namespace", "Namespace", options(GroupField.NAMESPACE)));
    selects.add(select(q, "cluster", "Cluster", options(GroupField.CLUSTER)));
    List<Option> states =
        List.of(
            new Option("open", "open", q.is("state", "open")),
            new Option("resolved", "resolved", q.is("state", "resolved")),
            new Option("all", "open and resolved", q.is("state", "all")));
    selects.add(new Select("state", "State", states));
    List<Option> since = new ArrayList<>();
    since.add(new Option("", "any time", q.get("since") == null));
    for (String k : ConsoleQuery.SINCE.keySet()) {
      since.add(new Option(k, "last " + k, k.equals(q.get("since"))));
    }
    selects.add(new Select("since", "Last seen", since));
    List<Option> sorts = new ArrayList<>();
    for (FindingSort s : FindingSort.values()) {
      sorts.add(new Option(s.wire(), s.wire().replace('-', ' '), q.sort() == s));
    }
    selects.add(new Select("sort", "Sort by", sorts));
    String next =
        page.continueToken() == null ? null : q.with("after", page.continueToken()).findingsUrl();
    String first = q.get("after") == null ? null : q.with("after", null).findingsUrl();
    ConsoleQuery exportQ = q.with("after", null).with("limit", null);
    List<Link> sortLinks = new ArrayList<>();
    for (FindingSort s : FindingSort.values()) {
      sortLinks.add(
          new Link(s.wire(), q.sort() == s ? 1 : 0, q.with("sort", s.wire()).findingsUrl()));
    }
    List<Link> active = new ArrayList<>();
    for (Map.Entry<String, String> e : q.params().entrySet()) {
      if (!List.of("after", "limit", "sort").contains(e.getKey())) {
        active.add(
            new Link(e.getKey() + ": " + e.getValue(), 0, q.with(e.getKey(), null).findingsUrl()));
      }
    }
    return new Views.FindingsList(
        frame("Findings", "findings", true),
        q,
        selects,
        rows,
        next,
        first,
        "/export/findings.csv" + exportQ.queryString(),
        "/export/findings.json" + exportQ.queryString(),
        "/report" + exportQ.queryString(),
        sortLinks,
        active,
        "/findings");
  }

  private List<String> options(GroupField field) {
    return facet(field);
  }

  private static Select select(ConsoleQuery q, String name, String label, List<String> values) {
    List<Option> options = new ArrayList<>();
    options.add(new Option("", "any", q.get(name) == null));
    boolean found = q.get(name) == null;
    for (String v : values) {
      boolean sel = v.equals(q.get(name));
      found |= sel;
      options.add(new Option(v, v, sel));
    }
    if (!found) { // a value from a shared link that no finding has (yet): keep it selectable
      options.add(new Option(q.get(name), q.get(name), true));
    }
    return new Select(name, label, options);
  }

  static List<Row> rows(List<Observation> items) {
    List<Row> rows = new ArrayList<>(items.size());
    for (Observation o : items) {
      rows.add(row(o));
    }
    return rows;
  }

  static Row row(Observation o) {
    ObservationSpec s = o.getSpec();
    ObservationStatus st =
        o.getStatus() == null ? new ObservationStatus(null, null, null, null, null) : o.getStatus();
    ResourceRef r = s.resource();
    String resource = null;
    String resourceUrl = null;
    if (r != null && r.name() != null) {
      resource =
          (r.kind() == null ? "" : r.kind() + "/")
              + (r.namespace() == null ? "" : r.namespace() + "/")
              + r.name();
      resourceUrl = resourceUrl(r.kind(), r.namespace(), r.name());
    }
    String ns = o.getMetadata().getNamespace();
    String name = o.getMetadata().getName();
    return new Row(
        ns,
        name,
        s.source(),
        s.severity() == null ? "" : s.severity().wire(),
        s.category() == null ? "" : s.category().wire(),
        s.eventType(),
        s.title() == null ? "" : s.title(),
        resource,
        resourceUrl,
        st.count() == null ? 1 : st.count(),
        shown(st.firstSeen()),
        shown(st.lastSeen()),
        Boolean.TRUE.equals(st.resolved()),
        shown(st.resolvedAt()),
        s.clusterName(),
        detailUrl(ns, name));
  }

  static String shown(String rfc3339) {
    if (rfc3339 == null) {
      return "";
    }
    try {
      return SHOWN.format(Instant.parse(rfc3339).truncatedTo(ChronoUnit.SECONDS));
    } catch (RuntimeException e) {
      return rfc3339;
    }
  }

  static String detailUrl(String namespace, String name) {
    return "/findings/" + enc(namespace) + "/" + enc(name);
  }

  static String resourceUrl(String kind, String namespace, String name) {
    return "/resource"
        + ConsoleQuery.EMPTY
            .with("kind", kind)
            .with("namespace", namespace)
            .with("resource", name)
            .queryString();
  }

  static String enc(String s) {
    return java.net.URLEncoder.encode(s, java.nio.charset.StandardCharsets.UTF_8)
        .replace("+", "%20");
  }

  // ---------------------------------------------------------------- detail

  Optional<Views.Detail> detail(String namespace, String name) {
    Optional<Observation> got = store.get(namespace, name);
    if (got.isEmpty()) {
      return Optional.empty();
    }
    Observation o = got.get();
    Row row = row(o);
    ObservationSpec s = o.getSpec();
    List<DetailField> spec = new ArrayList<>();
    spec.add(
        new DetailField(
            "Source",
            s.source(),
            ConsoleQuery.EMPTY.with("source", s.source()).with("state", "all").findingsUrl(),
            false));
    spec.add(
        new DetailField(
            "Severity",
            row.severity(),
            ConsoleQuery.EMPTY.with("severity", row.severity()).findingsUrl(),
            false));
    spec.add(new DetailField("Category", row.category(), null, false));
    spec.add(
        new DetailField(
            "Event type",
            s.eventType(),
            ConsoleQuery.EMPTY.with("eventType", s.eventType()).findingsUrl(),
            true));
    spec.add(new DetailField("Title", row.title(), null, false));
    if (s.resource() != null) {
      ResourceRef r = s.resource();
      spec.add(
          new DetailField(
              "Resource", row.resource() == null ? "" : row.resource(), row.resourceUrl(), false));
      spec.add(new DetailField("Resource apiVersion", r.apiVersion(), null, true));
      spec.add(
          new DetailField(
              "Resource namespace",
              r.namespace(),
              r.namespace() == null
                  ? null
                  : "/resource" + ConsoleQuery.EMPTY.with("namespace", r.namespace()).queryString(),
              false));
    }
    spec.add(new DetailField("Cluster", s.clusterName(), null, false));
    spec.add(new DetailField("Detected at", shown(s.detectedAt()), null, false));
    spec.add(new DetailField("Count", Long.toString(row.count()), null, false));
    spec.add(new DetailField("First seen", row.firstSeen(), null, false));
    spec.add(new DetailField("Last seen", row.lastSeen(), null, false));
    spec.add(
        new DetailField(
            "Resolved", row.resolved() ? "yes, at " + row.resolvedAt() : "no (open)", null, false));
    spec.add(
        new DetailField(
            "TTL after creation",
            s.ttlSecondsAfterCreation() == null ? null : s.ttlSecondsAfterCreation() + " s",
            null,
            false));
    spec.add(new DetailField("Fingerprint", s.fingerprint(), null, true));
    spec.add(new DetailField("Observation", namespace + "/" + name, null, true));
    spec.add(
        new DetailField("Created", shown(o.getMetadata().getCreationTimestamp()), null, false));
    spec.removeIf(f -> f.value() == null || f.value().isEmpty());
    List<DetailField> details = new ArrayList<>();
    if (s.details() != null) {
      for (Map.Entry<String, Object> e : s.details().entrySet()) {
        details.add(detailField(e.getKey(), e.getValue()));
      }
    }
    List<Row> related = new ArrayList<>();
    if (s.resource() != null && s.resource().name() != null) {
      ResourceRef r = s.resource();
      FindingFilter f = FindingFilter.NONE.withResource(r.kind(), r.namespace(), r.name());
      for (Observation other :
          store.findings(FindingsQuery.first(f, FindingSort.SEVERITY, RELATED_MAX + 1)).items()) {
        if (!(namespace.equals(other.getMetadata().getNamespace())
            && name.equals(other.getMetadata().getName()))) {
          related.add(row(other));
        }
      }
      if (related.size() > RELATED_MAX) {
        related = related.subList(0, RELATED_MAX);
      }
    }
    String json;
    try {
      json = Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(o);
    } catch (Exception e) {
      json = "";
    }
    return Optional.of(
        new Views.Detail(
            frame(row.title().isEmpty() ? name : row.title(), "findings", false),
            row,
            spec,
            details,
            related,
            json));
  }

  static DetailField detailField(String key, Object value) {
    if (value == null) {
      return new DetailField(key, "", null, false);
    }
    if (value instanceof String str) {
      return new DetailField(key, str, safeLink(str), false);
    }
    if (value instanceof Number || value instanceof Boolean) {
      return new DetailField(key, value.toString(), null, false);
    }
    if (value instanceof List<?> list
        && list.stream().allMatch(v -> v instanceof String || v instanceof Number)) {
      return new DetailField(
          key, String.join(", ", list.stream().map(String::valueOf).toList()), null, false);
    }
    try {
      return new DetailField(
          key, Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(value), null, true);
    } catch (Exception e) {
      return new DetailField(key, String.valueOf(value), null, true);
    }
  }

  /** A link target only for plain http(s) URLs: never javascript:, data: or anything else. */
  static String safeLink(String s) {
    String t = s.strip();
    if ((t.startsWith("https://") || t.startsWith("http://"))
        && t.length() < 2048
        && t.chars().noneMatch(c -> c <= ' ' || c == '"' || c == '<' || c == '>' || c == '`')) {
      try {
        java.net.URI u = new java.net.URI(t);
        return u.getHost() == null ? null : t;
      } catch (java.net.URISyntaxException e) {
        return null;
      }
    }
    return null;
  }

  // ---------------------------------------------------------------- resource view

  Views.Resource resource(ConsoleQuery q) {
    String kind = q.get("kind");
    String ns = q.get("namespace");
    String name = q.get("resource");
    if (name == null && ns == null) {
      throw new IllegalArgumentException(
          "a resource view needs resource (with kind and namespace) or namespace");
    }
    FindingFilter f =
        new FindingFilter(
            null,
            null,
            null,
            null,
            ns,
            null,
            kind,
            name,
            q.get("state") == null ? FindingFilter.State.ALL : q.state(),
            null,
            null,
            null,
            null,
            null);
    ObservationPage page =
        store.findings(FindingsQuery.first(f, FindingSort.SEVERITY, RESOURCE_MAX));
    Map<String, List<Row>> groups = new java.util.TreeMap<>();
    for (Observation o : page.items()) {
      groups.computeIfAbsent(o.getSpec().source(), k -> new ArrayList<>()).add(row(o));
    }
    List<Views.Group> out = new ArrayList<>();
    groups.forEach((k, v) -> out.add(new Views.Group(k, v)));
    String heading =
        name != null
            ? (kind == null ? "" : kind + " ") + (ns == null ? "" : ns + "/") + name
            : "Namespace " + ns;
    ConsoleQuery listQ =
        ConsoleQuery.EMPTY
            .with("kind", kind)
            .with("namespace", ns)
            .with("resource", name)
            .with("state", "all");
    List<Link> sev = new ArrayList<>();
    Map<String, Long> bySev = new LinkedHashMap<>();
    for (GroupCount g :
        store.countBy(f.withState(FindingFilter.State.OPEN), List.of(GroupField.SEVERITY))) {
      bySev.put(g.key(0), g.count());
    }
    for (String s : SEVERITIES) {
      sev.add(
          new Link(
              s,
              bySev.getOrDefault(s, 0L),
              listQ.with("state", "open").with("severity", s).findingsUrl()));
    }
    return new Views.Resource(
        frame(heading, "findings", false),
        heading,
        kind,
        ns,
        name,
        out,
        page.items().size(),
        page.continueToken() != null,
        listQ.findingsUrl(),
        sev);
  }

  // ---------------------------------------------------------------- sources

  /** The Ingesters' Ready conditions for the sources page. */
  volatile IngesterConditions ingesters = IngesterConditions.NONE;

  Views.Sources sources() {
    Instant now = clock.instant();
    Map<String, Object> ready = readyDetails.get();
    List<DetailField> replica = new ArrayList<>();
    replica.add(new DetailField("Store", storeName, null, false));
    replica.add(
        new DetailField("Store reachable", store.isReachable() ? "yes" : "no", null, false));
    List<SourceLine> activity = sourceLines(now);
    Map<String, SourceLine> lastBySource = new java.util.HashMap<>();
    activity.forEach(l -> lastBySource.put(l.source(), l));
    List<IngesterConditions.Condition> conditions = List.of();
    String problem = null;
    try {
      conditions = ingesters.conditions();
    } catch (RuntimeException e) {
      problem = "the Ingesters could not be read: " + e.getMessage();
    }
    Map<String, String> ingesterSources = new java.util.HashMap<>();
    List<Views.IngesterRow> ingesterRows = new ArrayList<>();
    for (IngesterConditions.Condition c : conditions) {
      if (c.source() != null) {
        ingesterSources.put("ingester:" + c.name(), c.source());
      }
      String state =
          switch (c.status()) {
            case "True" -> "active";
            case "False" -> "inactive";
            default -> "waiting";
          };
      ingesterRows.add(
          new Views.IngesterRow(
              c.name(),
              c.origin(),
              c.type(),
              c.source(),
              c.status(),
              state,
              c.reason(),
              c.message(),
              c.since() == null ? "" : SHOWN.format(c.since()),
              c.since() == null ? "" : ago(c.since(), now),
              c.source() == null
                  ? null
                  : ConsoleQuery.EMPTY
                      .with("source", c.source())
                      .with("state", "all")
                      .findingsUrl()));
    }
    List<Views.SourceStatus> watched = new ArrayList<>();
    List<DetailField> other = new ArrayList<>();
    for (Map.Entry<String, Object> e : ready.entrySet()) {
      if (e.getKey().equals("sources") && e.getValue() instanceof Map<?, ?> m) {
        for (Map.Entry<?, ?> s : m.entrySet()) {
          String id = String.valueOf(s.getKey());
          String status = String.valueOf(s.getValue());
          // built-in sources are "<source>:<resource>", informer Ingesters
          // "ingester:<namespace>/<name>"
          String source =
              ingesterSources.getOrDefault(
                  id, id.indexOf(':') > 0 ? id.substring(0, id.indexOf(':')) : id);
          watched.add(
              new Views.SourceStatus(id, status, sourceState(status), lastBySource.get(source)));
        }
      } else if (e.getValue() instanceof String
          || e.getValue() instanceof Number
          || e.getValue() instanceof Boolean) {
        replica.add(new DetailField(e.getKey(), String.valueOf(e.getValue()), null, false));
      } else {
        other.add(detailField(e.getKey(), e.getValue()));
      }
    }
    return new Views.Sources(
        frame("Sources and Ingesters", "sources", false),
        replica,
        watched,
        activity,
        other,
        ingesterRows,
        problem);
  }

  /** active, waiting or stale, from SourceManager.status strings. */
  static String sourceState(String status) {
    if (status.equals("synced")) {
      return "active";
    }
    if (status.startsWith("waiting") || status.equals("syncing") || status.startsWith("checking")) {
      return "waiting";
    }
    return "inactive";
  }

  // ---------------------------------------------------------------- report

  Views.Report report(ConsoleQuery q) {
    Instant now = clock.instant();
    FindingFilter f = q.filter(now);
    ObservationPage page = store.findings(FindingsQuery.first(f, FindingSort.SEVERITY, REPORT_MAX));
    List<Link> bySeverity = new ArrayList<>();
    Map<String, Long> counts = new LinkedHashMap<>();
    long total = 0;
    for (GroupCount g : store.countBy(f, List.of(GroupField.SEVERITY))) {
      counts.put(g.key(0), g.count());
      total += g.count();
    }
    for (String s : SEVERITIES) {
      bySeverity.add(new Link(s, counts.getOrDefault(s, 0L), q.with("severity", s).findingsUrl()));
    }
    List<Link> filters = new ArrayList<>();
    q.params().forEach((k, v) -> filters.add(new Link(k + ": " + v, 0, null)));
    return new Views.Report(
        frame("Findings report", "findings", false),
        q,
        SHOWN.format(now),
        bySeverity,
        rows(page.items()),
        total,
        page.continueToken() != null,
        filters,
        q.findingsUrl());
  }

  static boolean severityKnown(String s) {
    return Severity.parse(s).isPresent();
  }
}
