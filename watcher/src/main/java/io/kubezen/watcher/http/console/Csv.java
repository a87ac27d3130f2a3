package io.kubezen.watcher.http.console;

import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.api.v1alpha1.ObservationSpec;
import io.kubezen.api.v1alpha1.ObservationStatus;
import io.kubezen.api.v1alpha1.ResourceRef;
import java.util.List;

/**
 * The CSV export (RFC 4180): one header line, one line per finding. Safe to open in a spreadsheet:
 * a cell that starts with {@code = + - @}, a tab or a carriage return is prefixed with a single
 * quote, so it is never taken as a formula. Pure.
 */
final class Csv {
  static final List<String> COLUMNS =
      List.of(
          "namespace",
          "name",
          "source",
          "severity",
          "category",
          "eventType",
          "title",
          "resourceKind",
          "resourceNamespace",
          "resourceName",
          "cluster",
          "count",
          "firstSeen",
          "lastSeen",
          "resolved",
          "resolvedAt",
          "detectedAt",
          "fingerprint");

  private Csv() {}

  static String header() {
    return String.join(",", COLUMNS) + "\r\n";
  }

  static String row(Observation o) {
    ObservationSpec s = o.getSpec();
    ObservationStatus st =
        o.getStatus() == null ? new ObservationStatus(null, null, null, null, null) : o.getStatus();
    ResourceRef r = s.resource();
    List<String> cells =
        java.util.Arrays.asList(
            o.getMetadata().getNamespace(),
            o.getMetadata().getName(),
            s.source(),
            s.severity() == null ? null : s.severity().wire(),
            s.category() == null ? null : s.category().wire(),
            s.eventType(),
            s.title(),
            r == null ? null : r.kind(),
            r == null ? null : r.namespace(),
            r == null ? null : r.name(),
            s.clusterName(),
            st.count() == null ? null : st.count().toString(),
            st.firstSeen(),
            st.lastSeen(),
            Boolean.TRUE.equals(st.resolved()) ? "true" : "false",
            st.resolvedAt(),
            s.detectedAt(),
            s.fingerprint());
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < cells.size(); i++) {
      if (i > 0) {
        b.append(',');
      }
      b.append(cell(cells.get(i)));
    }
    return b.append("\r\n").toString();
  }

  static String cell(String value) {
    if (value == null || value.isEmpty()) {
      return "";
    }
    String v = value;
    char c = v.charAt(0);
    if (c == '=' || c == '+' || c == '-' || c == '@' || c == '\t' || c == '\r') {
      v = "'" + v;
    }
    if (v.indexOf(',') >= 0
        || v.indexOf('"') >= 0
        || v.indexOf('\n') >= 0
        || v.indexOf('\r') >= 0) {
      return "\"" + v.replace("\"", "\"\"") + "\"";
    }
    return v;
  }
}
