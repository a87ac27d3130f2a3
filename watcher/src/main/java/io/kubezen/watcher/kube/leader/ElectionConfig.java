package io.kubezen.watcher.kube.leader;

import java.time.Duration;
import java.util.Objects;

/**
 * One replica's part in a Lease election.
 *
 * @param namespace the Lease's namespace ({@code POD_NAMESPACE})
 * @param name the Lease's name ({@code LEADER_ELECTION_ID})
 * @param identity this replica's holder identity ({@code POD_NAME}, else the host name)
 * @param leaseDuration how long followers wait, from when they last saw the Lease renewed, before
 *     taking it
 * @param renewDeadline how long the leader keeps leading without a successful renew
 * @param retryPeriod how often the leader renews and a follower tries (followers also watch the
 *     Lease)
 */
public record ElectionConfig(
    String namespace,
    String name,
    String identity,
    Duration leaseDuration,
    Duration renewDeadline,
    Duration retryPeriod) {

  public ElectionConfig {
    Objects.requireNonNull(namespace, "namespace");
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(identity, "identity");
    if (identity.isBlank()) {
      throw new IllegalArgumentException("identity must not be blank");
    }
    if (retryPeriod.isNegative() || retryPeriod.isZero()) {
      throw new IllegalArgumentException("retryPeriod must be positive");
    }
    if (renewDeadline.compareTo(retryPeriod) <= 0) {
      throw new IllegalArgumentException(
          "renewDeadline ("
              + renewDeadline
              + ") must be longer than retryPeriod ("
              + retryPeriod
              + ")");
    }
    if (leaseDuration.compareTo(renewDeadline) <= 0) {
      throw new IllegalArgumentException(
          "leaseDuration ("
              + leaseDuration
              + ") must be longer than renewDeadline ("
              + renewDeadline
              + ")");
    }
  }

  /** {@code namespace/name}. */
  public String lease() {
    return namespace + "/" + name;
  }

  /**
   * How long the leader may take to stop its work once the renew deadline has passed: half the
   * margin between renew deadline and lease duration (at least 50 ms), so that the work has stopped
   * before any follower can consider the Lease expired.
   */
  public Duration stopBudget() {
    Duration half = leaseDuration.minus(renewDeadline).dividedBy(2);
    return half.compareTo(Duration.ofMillis(50)) < 0 ? Duration.ofMillis(50) : half;
  }
}
