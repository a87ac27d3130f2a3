package io.kubezen.watcher.store.postgres;

import io.kubezen.watcher.store.FindingSort;
import io.kubezen.watcher.store.FindingsQuery;
import io.kubezen.watcher.store.jdbc.SqlDialect;
import java.util.List;

/** The console's SQL in {@link SqlDialect#POSTGRES}, as the query plan tests build a page. */
final class ConsoleSql {
  private static final io.kubezen.watcher.store.jdbc.ConsoleSql SQL =
      new io.kubezen.watcher.store.jdbc.ConsoleSql(SqlDialect.POSTGRES);

  private ConsoleSql() {}

  /** The key of the last row of a findings page, with the row's cluster. */
  record After(FindingSort sort, long k1, long k2, String namespace, String name, String cluster) {}

  static String page(FindingsQuery q, After a, List<Object> args) {
    return SQL.page(
        q,
        a == null
            ? null
            : new io.kubezen.watcher.store.jdbc.ConsoleSql.After(
                a.sort(), a.k1(), a.k2(), a.namespace(), a.name(), a.cluster()),
        args);
  }
}
