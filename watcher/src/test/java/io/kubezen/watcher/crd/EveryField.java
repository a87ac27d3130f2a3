package io.kubezen.watcher.crd;

import io.fabric8.kubernetes.api.model.KubernetesResource;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

/**
 * Walks a value (records, fabric8 model beans, lists, maps) and lists every field left unset: a
 * null component or property, an empty list or map. A round-trip fixture with nothing unset
 * exercises every field of the schema, including fields added to the records later.
 */
final class EveryField {
  private EveryField() {}

  /** The paths of the unset fields under {@code root}, e.g. {@code spec.mapping.severityMap}. */
  static List<String> unset(Object root, String path) {
    List<String> out = new ArrayList<>();
    walk(root, path, out);
    return out;
  }

  private static void walk(Object value, String path, List<String> out) {
    if (value == null) {
      out.add(path);
      return;
    }
    Class<?> type = value.getClass();
    if (type.isRecord()) {
      for (RecordComponent rc : type.getRecordComponents()) {
        walk(invoke(rc.getAccessor(), value), path + "." + rc.getName(), out);
      }
    } else if (value instanceof Collection<?> items) {
      if (items.isEmpty()) {
        out.add(path + " (empty)");
      }
      int i = 0;
      for (Object item : items) {
        walk(item, path + "[" + i++ + "]", out);
      }
    } else if (value instanceof Map<?, ?> map) {
      if (map.isEmpty()) {
        out.add(path + " (empty)");
      }
      map.forEach((k, v) -> walk(v, path + "." + k, out));
    } else if (value instanceof KubernetesResource) {
      // a fabric8 model bean (e.g. Condition): every getter except the catch-all
      // additionalProperties
      Arrays.stream(type.getMethods())
          .filter(
              m ->
                  m.getName().startsWith("get")
                      && m.getParameterCount() == 0
                      && !Modifier.isStatic(m.getModifiers())
                      && m.getDeclaringClass() != Object.class
                      && !m.getName().equals("getAdditionalProperties"))
          .sorted(Comparator.comparing(Method::getName))
          .forEach(
              m ->
                  walk(invoke(m, value), path + "." + decapitalize(m.getName().substring(3)), out));
    }
    // anything else (String, Number, Boolean, enum) is a set leaf
  }

  private static Object invoke(Method m, Object target) {
    try {
      return m.invoke(target);
    } catch (IllegalAccessException | InvocationTargetException e) {
      throw new IllegalStateException("cannot read " + m, e);
    }
  }

  private static String decapitalize(String s) {
    return s.isEmpty() ? s : Character.toLowerCase(s.charAt(0)) + s.substring(1);
  }
}
