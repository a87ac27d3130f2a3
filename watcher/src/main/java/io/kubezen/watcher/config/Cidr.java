package io.kubezen.watcher.config;

import java.net.InetAddress;
import java.net.UnknownHostException;

/**
 * An IPv4 or IPv6 network in CIDR notation ({@code 10.0.0.0/8}, {@code ::1/128}); a bare address is
 * /32 or /128.
 */
public record Cidr(byte[] network, int prefix) {

  public static Cidr parse(String text) {
    String[] parts = text.split("/", 2);
    if (!parts[0].matches("[0-9a-fA-F:.]+")) {
      throw new IllegalArgumentException("'" + text + "' is not a CIDR (expected e.g. 10.0.0.0/8)");
    }
    byte[] addr;
    try {
      addr = InetAddress.getByName(parts[0]).getAddress();
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException("'" + text + "' is not a CIDR (expected e.g. 10.0.0.0/8)");
    }
    int max = addr.length * 8;
    int prefix;
    try {
      prefix = parts.length == 2 ? Integer.parseInt(parts[1]) : max;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("'" + text + "' has a prefix length that is not a number");
    }
    if (prefix < 0 || prefix > max) {
      throw new IllegalArgumentException("'" + text + "' has a prefix length outside 0.." + max);
    }
    return new Cidr(addr, prefix);
  }

  public boolean contains(InetAddress address) {
    byte[] a = address.getAddress();
    if (a.length != network.length) {
      return false;
    }
    int full = prefix / 8;
    for (int i = 0; i < full; i++) {
      if (a[i] != network[i]) {
        return false;
      }
    }
    int rest = prefix % 8;
    if (rest == 0) {
      return true;
    }
    int mask = 0xff << (8 - rest);
    return (a[full] & mask) == (network[full] & mask);
  }
}
