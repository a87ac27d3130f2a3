package io.kubezen.bench;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * A serialized body with fixed-width placeholders that can be rewritten in place, so that a body
 * parsed again carries identities never seen before (the dedup "first" path) without building new
 * JSON. Each placeholder is {@link #WIDTH} lower-case hex characters; every occurrence of the same
 * placeholder gets the same new value.
 */
final class Slots {
  static final int WIDTH = 12;
  private static final byte[] HEX = "0123456789abcdef".getBytes(StandardCharsets.US_ASCII);

  private final byte[] bytes;

  /** One entry per placeholder: the offsets of its occurrences. */
  private final int[][] offsets;

  private Slots(byte[] bytes, int[][] offsets) {
    this.bytes = bytes;
    this.offsets = offsets;
  }

  /**
   * Placeholder number {@code i}: 12 characters no realistic input holds ("feedf" + 7 hex digits).
   */
  static String placeholder(int i) {
    return String.format("feedf%07x", i);
  }

  /** Finds the placeholders 0..count-1 in bytes. */
  static Slots find(byte[] bytes, int first, int count) {
    int[][] offsets = new int[count][];
    for (int i = 0; i < count; i++) {
      byte[] p = placeholder(first + i).getBytes(StandardCharsets.US_ASCII);
      List<Integer> found = new ArrayList<>();
      for (int at = indexOf(bytes, p, 0); at >= 0; at = indexOf(bytes, p, at + 1)) {
        found.add(at);
      }
      if (found.isEmpty()) {
        throw new IllegalStateException(
            "placeholder " + placeholder(first + i) + " not in the body");
      }
      offsets[i] = found.stream().mapToInt(Integer::intValue).toArray();
    }
    return new Slots(bytes, offsets);
  }

  byte[] bytes() {
    return bytes;
  }

  int count() {
    return offsets.length;
  }

  /**
   * Writes a fresh value (from {@code counter}, then counter+1, ...) into every placeholder;
   * returns the next counter.
   */
  long refresh(long counter) {
    long c = counter;
    for (int[] occurrences : offsets) {
      for (int at : occurrences) {
        long v = c;
        for (int k = WIDTH - 1; k >= 0; k--) {
          bytes[at + k] = HEX[(int) (v & 0xf)];
          v >>>= 4;
        }
      }
      c++;
    }
    return c;
  }

  private static int indexOf(byte[] haystack, byte[] needle, int from) {
    outer:
    for (int i = from; i <= haystack.length - needle.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (haystack[i + j] != needle[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }
}
