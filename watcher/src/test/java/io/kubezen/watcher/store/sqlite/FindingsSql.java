package io.kubezen.watcher.store.sqlite;

import io.kubezen.watcher.store.FindingFilter;
import io.kubezen.watcher.store.FindingSort;
import io.kubezen.watcher.store.FindingsQuery;
import io.kubezen.watcher.store.GroupField;
import io.kubezen.watcher.store.jdbc.ConsoleSql;
import io.kubezen.watcher.store.jdbc.SqlDialect;
import java.util.List;

/**
 * The console's SQL in {@link SqlDialect#SQLITE}, as the query plan tests build it: a page key
 * without a cluster, the page and the counts of {@link ConsoleSql}.
 */
final class FindingsSql {
  private static final ConsoleSql SQL = new ConsoleSql(SqlDialect.SQLITE);

  private FindingsSql() {}

  /** The key of the last row of a findings page (SQLite's has no cluster). */
  record After(FindingSort sort, long k1, long k2, String namespace, String name) {}

  static String page(FindingsQuery q, After a, List<Object> args) {
    return SQL.page(
        q,
        a == null
            ? null
            : new ConsoleSql.After(a.sort(), a.k1(), a.k2(), a.namespace(), a.name(), null),
        args);
  }

  static String countBy(FindingFilter filter, List<GroupField> fields, List<Object> args) {
    return SQL.countBy(filter, fields, args);
  }
}
