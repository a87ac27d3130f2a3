package io.kubezen.watcher.arch;

import static org.assertj.core.api.Assertions.assertThat;

import io.kubezen.watcher.source.SourceDescriptor;
import io.kubezen.watcher.source.catalog.Sources;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * No source name is written outside its own package: every main class's string constants (its
 * constant pool, which also holds the compile-time constants it inlined from other classes, e.g. a
 * {@code FalcoNormalizer.SOURCE}) are searched for each built-in source's name. A class that needs
 * to treat one source specially must read it from the source's descriptor instead.
 *
 * <p>One allowance: a source's own error message may point the user at a sibling source's endpoint
 * ({@code "... post it to /ingest/k8s-events"} in the audit normalizer's 422): a hint for the
 * reader, not a special case in the code.
 */
class SourceNamesTest {

  @Test
  void noSourceNameOutsideItsPackage() throws IOException, URISyntaxException {
    Path root = Path.of(Sources.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    List<Path> classFiles;
    try (Stream<Path> s = Files.walk(root)) {
      classFiles = s.filter(p -> p.toString().endsWith(".class")).toList();
    }
    assertThat(classFiles).hasSizeGreaterThan(100);
    List<String> violations = new ArrayList<>();
    int checked = 0;
    for (Path file : classFiles) {
      String className =
          root.relativize(file)
              .toString()
              .replace(file.getFileSystem().getSeparator(), ".")
              .replaceAll("\\.class$", "");
      List<String> strings = stringConstants(file);
      for (SourceDescriptor d : Sources.BUILT_IN) {
        String home = d.normalizer().getClass().getPackageName() + ".";
        if (className.startsWith(home)) {
          continue;
        }
        Pattern name =
            Pattern.compile("(?<![A-Za-z0-9-])" + Pattern.quote(d.name()) + "(?![A-Za-z0-9-])");
        for (String s : strings) {
          boolean hint =
              className.startsWith("io.kubezen.watcher.source.")
                  && s.contains("/ingest/" + d.name());
          if (name.matcher(s).find() && !hint) {
            violations.add(
                className
                    + " holds \""
                    + s
                    + "\" (source "
                    + d.name()
                    + ", whose home is "
                    + home
                    + ")");
          }
        }
      }
      checked++;
    }
    assertThat(checked).isEqualTo(classFiles.size());
    assertThat(violations)
        .as("source names outside their package: read them from the descriptor")
        .isEmpty();
  }

  /** The sanity of the scanner itself: it finds the names where they are. */
  @Test
  void theScannerSeesTheNamesInTheirOwnPackages() throws IOException, URISyntaxException {
    for (SourceDescriptor d : Sources.BUILT_IN) {
      Class<?> c = d.normalizer().getClass();
      Path file =
          Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI())
              .resolve(c.getName().replace('.', '/') + ".class");
      assertThat(stringConstants(file)).as(c.getName()).contains(d.name());
    }
  }

  /** The CONSTANT_String entries of a class file's constant pool (JVMS 4.4). */
  static List<String> stringConstants(Path classFile) throws IOException {
    try (InputStream raw = Files.newInputStream(classFile);
        DataInputStream in = new DataInputStream(raw)) {
      if (in.readInt() != 0xCAFEBABE) {
        throw new IOException(classFile + " is not a class file");
      }
      in.readUnsignedShort();
      in.readUnsignedShort();
      int count = in.readUnsignedShort();
      String[] utf8 = new String[count];
      List<Integer> stringRefs = new ArrayList<>();
      for (int i = 1; i < count; i++) {
        int tag = in.readUnsignedByte();
        switch (tag) {
          case 1 -> utf8[i] = in.readUTF();
          case 8 -> stringRefs.add(in.readUnsignedShort());
          case 7, 16, 19, 20 -> in.readUnsignedShort();
          case 15 -> {
            in.readUnsignedByte();
            in.readUnsignedShort();
          }
          case 3, 4, 9, 10, 11, 12, 17, 18 -> in.readInt();
          case 5, 6 -> {
            in.readLong();
            i++;
          }
          default -> throw new IOException(classFile + ": unknown constant pool tag " + tag);
        }
      }
      List<String> out = new ArrayList<>();
      for (int ref : stringRefs) {
        out.add(utf8[ref]);
      }
      return out;
    }
  }
}
