package io.kubezen.watcher.config;

import java.io.Console;
import java.lang.reflect.Method;

/**
 * Whether this process writes to a terminal (a person reads it) or to a pipe or file (a program
 * does).
 */
final class Terminal {
  private Terminal() {}

  /**
   * True when standard output is a terminal. On Java 17 to 21 {@link System#console()} exists only
   * when standard input and output are both terminals; from Java 22 it may exist for a redirected
   * process too, and {@code Console.isTerminal()} (Java 22) tells, so it is asked when present.
   */
  static boolean stdoutIsTerminal() {
    Console console = System.console();
    if (console == null) {
      return false;
    }
    try {
      Method isTerminal = Console.class.getMethod("isTerminal");
      return (Boolean) isTerminal.invoke(console);
    } catch (NoSuchMethodException beforeJava22) {
      return true;
    } catch (ReflectiveOperationException | RuntimeException e) {
      return false;
    }
  }
}
