package io.kubezen.watcher.kube.leader;

import static net.logstash.logback.argument.StructuredArguments.kv;

import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.api.model.coordination.v1.LeaseSpec;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Leader election on a {@code coordination.k8s.io/v1} Lease, compatible with client-go's and
 * fabric8's electors (same fields; an empty holder means released).
 *
 * <p>Why not fabric8's {@code LeaderElector}: it tries to acquire only on a jittered tick (1 to 2.2
 * retry periods: 2.7 s measured for a graceful handoff); its renew-deadline check does not run
 * while a renew request hangs, and it reads the Lease again before calling {@code onStopLeading},
 * so on a dead API server the leader may stop after the Lease has expired, when another replica
 * already leads. This elector:
 *
 * <ul>
 *   <li><b>Safety.</b> The leader renews every retry period; every API call is bounded by the time
 *       left before {@code lastSuccessfulRenewSent + renewDeadline}. At that instant it gives up
 *       and calls {@link Listener#stopLeading} with {@link ElectionConfig#stopBudget()}. A follower
 *       takes a held Lease only when it has not seen it change for the Lease's duration, measured
 *       on its own monotonic clock from when it saw the last renew (as client-go does: robust to
 *       clock offsets between nodes). A renew is seen no earlier than it was sent, so a follower
 *       takes over at least {@code leaseDuration} after the leader's last successful renew was
 *       sent, by which time the leader stopped ({@code renewDeadline + stopBudget <
 *       leaseDuration}). Writes use the Lease's resourceVersion: two replicas can never both
 *       succeed.
 *   <li><b>Fast handoff.</b> Followers watch the Lease; when it is released (empty holder) or
 *       deleted they try at once; a held Lease is tried exactly when it expires, not on a tick.
 *   <li><b>Never exits.</b> After losing the Lease the replica keeps following and may lead again.
 * </ul>
 *
 * <p>All state lives on one thread ({@code leader-election}); API calls run on another and are
 * awaited with a timeout, so a hanging call can never delay the renew deadline.
 */
public final class LeaseElector implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(LeaseElector.class);

  /** What the replica does when it gains or loses the Lease. Called on the election thread. */
  public interface Listener {
    /**
     * This replica holds the Lease: start the leader-only work.
     *
     * @param failover time from the previous holder's last renew (or its release) to now; null when
     *     there was no Lease before
     */
    void startLeading(Duration failover);

    /**
     * Stop the leader-only work; must return within {@code budget} (the Lease may be taken by
     * another replica soon after).
     *
     * @param reason why, in a few words ("shutdown", "renew deadline passed", "lease taken by x")
     */
    void stopLeading(String reason, Duration budget);
  }

  private final KubernetesClient client;
  private final ElectionConfig config;
  private final Clock clock;
  private final Listener listener;
  private final ScheduledExecutorService loop;
  private final ExecutorService api;
  private final AtomicLong transitions = new AtomicLong();
  private volatile boolean leader;
  private volatile boolean closed;
  private SharedIndexInformer<Lease> watch;

  // Only touched on the loop thread.
  private boolean leading;
  private long renewByNanos;
  private Lease last;
  private String observedKey;
  private long observedAtNanos;
  private ScheduledFuture<?> next;

  public LeaseElector(
      KubernetesClient client, ElectionConfig config, Clock clock, Listener listener) {
    this.client = Objects.requireNonNull(client, "client");
    this.config = Objects.requireNonNull(config, "config");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.listener = Objects.requireNonNull(listener, "listener");
    this.loop = Executors.newSingleThreadScheduledExecutor(r -> daemon(r, "leader-election"));
    this.api = Executors.newCachedThreadPool(r -> daemon(r, "leader-election-api"));
  }

  private static Thread daemon(Runnable r, String name) {
    Thread t = new Thread(r, name);
    t.setDaemon(true);
    return t;
  }

  /** Joins the election: watches the Lease and tries to acquire it. Returns at once. */
  public synchronized LeaseElector start() {
    if (watch != null || closed) {
      return this;
    }
    try {
      watch =
          client
              .leases()
              .inNamespace(config.namespace())
              .withName(config.name())
              .inform(
                  new ResourceEventHandler<>() {
                    @Override
                    public void onAdd(Lease lease) {
                      onWatched(lease);
                    }

                    @Override
                    public void onUpdate(Lease oldLease, Lease newLease) {
                      onWatched(newLease);
                    }

                    @Override
                    public void onDelete(Lease lease, boolean unknown) {
                      onWatched(null);
                    }
                  },
                  0);
    } catch (RuntimeException e) {
      // The election works without the watch (tries on every retry period); the informer retries by
      // itself.
      log.warn(
          "cannot watch Lease {} (handoffs will wait for the retry period): {}",
          config.lease(),
          e.toString());
    }
    submit(this::tick);
    log.info(
        "leader election started {} {} {} {} {}",
        kv("identity", config.identity()),
        kv("lease", config.lease()),
        kv("leaseDurationMillis", config.leaseDuration().toMillis()),
        kv("renewDeadlineMillis", config.renewDeadline().toMillis()),
        kv("retryPeriodMillis", config.retryPeriod().toMillis()));
    return this;
  }

  /** True while this replica holds the Lease and has not given it up. */
  public boolean isLeader() {
    return leader;
  }

  /** Times this replica became leader or stopped being leader. */
  public long transitions() {
    return transitions.get();
  }

  public ElectionConfig config() {
    return config;
  }

  /**
   * Leaves the election: when leading, stops the leader work, then releases the Lease (empty
   * holder) so that a follower takes it at once. Bounded by {@code timeout}.
   */
  public void close(Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
    }
    SharedIndexInformer<Lease> w;
    synchronized (this) {
      w = watch;
    }
    if (w != null) {
      w.stop();
    }
    try {
      CompletableFuture<Void> done = new CompletableFuture<>();
      loop.execute(
          () -> {
            try {
              if (next != null) {
                next.cancel(false);
              }
              if (leading) {
                giveUp("shutdown", false);
                release(deadline);
              }
            } finally {
              done.complete(null);
            }
          });
      done.get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
    } catch (TimeoutException e) {
      log.warn("leader election did not stop within {} ms", timeout.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException | RejectedExecutionException e) {
      log.warn("leader election stop failed: {}", e.toString());
    }
    loop.shutdownNow();
    api.shutdownNow();
  }

  @Override
  public void close() {
    close(config.renewDeadline());
  }

  // --- the loop ---

  private void submit(Runnable r) {
    try {
      loop.execute(r);
    } catch (RejectedExecutionException ignored) {
      // closed
    }
  }

  private void onWatched(Lease lease) {
    submit(
        () -> {
          if (closed) {
            return;
          }
          if (lease != null) {
            observe(lease);
          }
          if (leading) {
            if (lease == null || !config.identity().equals(holder(lease))) {
              tickNow(); // find out at once: the renew fails with 409 or 404
            }
            return;
          }
          if (lease == null || isEmpty(holder(lease)) || expired()) {
            tickNow();
          } else {
            schedule();
          }
        });
  }

  private void tickNow() {
    if (next != null) {
      next.cancel(false);
    }
    tick();
  }

  private void tick() {
    if (closed) {
      return;
    }
    try {
      if (leading) {
        renew();
      } else {
        tryAcquire();
      }
    } catch (RuntimeException e) {
      log.warn("leader election step failed: {}", e.toString());
    }
    schedule();
  }

  private void schedule() {
    if (closed) {
      return;
    }
    if (next != null) {
      next.cancel(false);
    }
    long now = System.nanoTime();
    long delay;
    if (leading) {
      delay = Math.min(config.retryPeriod().toNanos(), Math.max(0, renewByNanos - now));
    } else {
      long retry = config.retryPeriod().toNanos();
      delay = retry + (long) (retry * 0.2 * ThreadLocalRandom.current().nextDouble());
      if (last != null && !isEmpty(holder(last))) {
        delay = Math.min(delay, Math.max(0, observedAtNanos + leaseDurationNanos(last) - now));
      }
    }
    try {
      next = loop.schedule(this::tick, delay, TimeUnit.NANOSECONDS);
    } catch (RejectedExecutionException ignored) {
      // closed
    }
  }

  /**
   * How long one call of an acquisition attempt may take. Not the retry period: on a loaded API
   * server a short bound makes every attempt time out and nobody ever acquires. Safe, because the
   * renew deadline of a new leader counts from when its acquiring request was sent.
   */
  private long acquireTimeoutNanos() {
    return config.renewDeadline().toNanos();
  }

  private void tryAcquire() {
    long sent = System.nanoTime();
    Lease current;
    try {
      current = call(this::get, acquireTimeoutNanos());
    } catch (Exception e) {
      leaseCallFailed("cannot read Lease", e);
      return;
    }
    leaseCallSucceeded();
    if (current == null) {
      if (last != null
          && !isEmpty(holder(last))
          && !config.identity().equals(holder(last))
          && !expired()) {
        // Deleted while another replica held it: that replica may still run its leader work until
        // its lease runs out (it learns of the deletion only at its next renew). Wait it out;
        // schedule() wakes us when it has expired.
        return;
      }
      Lease created;
      sent = System.nanoTime();
      try {
        created =
            call(
                () ->
                    client
                        .leases()
                        .inNamespace(config.namespace())
                        .resource(record(null, 0, null))
                        .create(),
                acquireTimeoutNanos());
      } catch (Exception e) {
        leaseCallFailed("cannot create Lease", e);
        return;
      }
      observe(created);
      becameLeader(sent, null);
      return;
    }
    observe(current);
    String holder = holder(current);
    boolean ours = config.identity().equals(holder);
    if (!ours && !isEmpty(holder) && !expired()) {
      return;
    }
    Instant previous = renewTime(current);
    int transitionsSoFar =
        current.getSpec() == null || current.getSpec().getLeaseTransitions() == null
            ? 0
            : current.getSpec().getLeaseTransitions();
    Lease updated;
    sent = System.nanoTime();
    try {
      updated =
          call(
              () ->
                  client
                      .leases()
                      .inNamespace(config.namespace())
                      .resource(
                          record(current, ours ? transitionsSoFar : transitionsSoFar + 1, null))
                      .update(),
              acquireTimeoutNanos());
    } catch (Exception e) {
      leaseCallFailed("cannot take Lease", e);
      return;
    }
    observe(updated);
    becameLeader(sent, previous);
  }

  /**
   * A Lease call failed since the last one that succeeded: the first failure was logged at WARN.
   */
  private volatile boolean leaseCallsFailing;

  /**
   * A failed Lease call: WARN for the first of a run of failures (a refused or unreachable API
   * server must be visible at the default level), DEBUG for the rest and for 409 Conflict / already
   * exists, which is another replica writing first and part of normal operation.
   */
  private void leaseCallFailed(String what, Exception e) {
    boolean race = e instanceof KubernetesClientException k && k.getCode() == 409;
    if (!race && !leaseCallsFailing) {
      leaseCallsFailing = true;
      log.warn(
          "{} {}: {} (repeats logged at DEBUG until a Lease call succeeds)",
          what,
          config.lease(),
          e.toString());
    } else {
      log.debug("{} {}: {}", what, config.lease(), e.toString());
    }
  }

  private void leaseCallSucceeded() {
    if (leaseCallsFailing) {
      leaseCallsFailing = false;
      log.info("Lease {} calls succeed again", config.lease());
    }
  }

  private void becameLeader(long sentNanos, Instant previousRenew) {
    leading = true;
    leader = true;
    renewByNanos = sentNanos + config.renewDeadline().toNanos();
    transitions.incrementAndGet();
    Duration failover =
        previousRenew == null ? null : Duration.between(previousRenew, clock.instant());
    if (failover != null && failover.isNegative()) {
      failover = Duration.ZERO;
    }
    log.info(
        "leadership acquired {} {} {}",
        kv("identity", config.identity()),
        kv("lease", config.lease()),
        kv("failoverMillis", failover == null ? -1 : failover.toMillis()));
    try {
      listener.startLeading(failover);
    } catch (RuntimeException e) {
      log.error("starting the leader work failed: {}", e.toString(), e);
    }
  }

  private void renew() {
    long sent = System.nanoTime();
    if (sent >= renewByNanos) {
      giveUp("renew deadline passed", true);
      return;
    }
    try {
      Lease updated =
          call(
              () ->
                  client
                      .leases()
                      .inNamespace(config.namespace())
                      .resource(record(last, transitionsOf(last), last))
                      .update(),
              renewByNanos - sent);
      observe(updated);
      leaseCallSucceeded();
      renewByNanos = sent + config.renewDeadline().toNanos();
      return;
    } catch (KubernetesClientException e) {
      if (e.getCode() == 404) {
        giveUp("lease deleted", true);
        return;
      }
      if (e.getCode() != 409) {
        leaseCallFailed("renewing Lease failed", e);
        return;
      }
    } catch (Exception e) {
      leaseCallFailed("renewing Lease failed", e);
      if (System.nanoTime() >= renewByNanos) {
        giveUp("renew deadline passed: " + e, true);
      }
      return;
    }
    // 409: someone wrote the Lease; read it and, when it is still ours, renew on the new version.
    try {
      Lease current = call(this::get, Math.max(1, renewByNanos - System.nanoTime()));
      if (current == null) {
        giveUp("lease deleted", true);
        return;
      }
      observe(current);
      if (!config.identity().equals(holder(current))) {
        giveUp(
            "lease taken by " + (isEmpty(holder(current)) ? "nobody (released)" : holder(current)),
            true);
        return;
      }
      long again = System.nanoTime();
      Lease updated =
          call(
              () ->
                  client
                      .leases()
                      .inNamespace(config.namespace())
                      .resource(record(current, transitionsOf(current), current))
                      .update(),
              Math.max(1, renewByNanos - again));
      observe(updated);
      renewByNanos = again + config.renewDeadline().toNanos();
    } catch (Exception e) {
      leaseCallFailed("renewing Lease after a conflict failed", e);
      if (System.nanoTime() >= renewByNanos) {
        giveUp("renew deadline passed: " + e, true);
      }
    }
  }

  /** Stops leading: the listener stops the work (bounded), then the replica follows again. */
  private void giveUp(String reason, boolean lost) {
    leading = false;
    leader = false;
    transitions.incrementAndGet();
    if (lost) {
      log.warn("leadership lost {} {}", kv("identity", config.identity()), kv("reason", reason));
    }
    try {
      listener.stopLeading(reason, config.stopBudget());
    } catch (RuntimeException e) {
      log.error("stopping the leader work failed: {}", e.toString(), e);
    }
    // Our own last renew is the one to wait out before taking the Lease again (unless it is still
    // ours).
    observedAtNanos = System.nanoTime();
  }

  private void release(long deadlineNanos) {
    Lease base = last;
    for (int attempt = 0; attempt < 2 && base != null; attempt++) {
      Lease b = base;
      try {
        LeaseSpec spec = new LeaseSpec();
        spec.setHolderIdentity(null);
        spec.setLeaseDurationSeconds(
            b.getSpec() == null
                ? seconds(config.leaseDuration())
                : b.getSpec().getLeaseDurationSeconds());
        spec.setLeaseTransitions(transitionsOf(b));
        spec.setRenewTime(now());
        Lease released = new Lease();
        released.setMetadata(
            new ObjectMetaBuilder()
                .withName(config.name())
                .withNamespace(config.namespace())
                .withResourceVersion(b.getMetadata().getResourceVersion())
                .build());
        released.setSpec(spec);
        call(
            () -> client.leases().inNamespace(config.namespace()).resource(released).update(),
            Math.max(1, deadlineNanos - System.nanoTime()));
        log.info(
            "lease released {} {}", kv("identity", config.identity()), kv("lease", config.lease()));
        return;
      } catch (KubernetesClientException e) {
        if (e.getCode() != 409) {
          log.warn("cannot release Lease {}: {}", config.lease(), e.toString());
          return;
        }
        try {
          base = call(this::get, Math.max(1, deadlineNanos - System.nanoTime()));
        } catch (Exception again) {
          log.warn("cannot release Lease {}: {}", config.lease(), again.toString());
          return;
        }
        if (base == null || !config.identity().equals(holder(base))) {
          return; // no longer ours: nothing to release
        }
      } catch (Exception e) {
        log.warn("cannot release Lease {}: {}", config.lease(), e.toString());
        return;
      }
    }
  }

  // --- the Lease ---

  private Lease get() {
    return client.leases().inNamespace(config.namespace()).withName(config.name()).get();
  }

  /** Our record: held by us, renewed now, on {@code base}'s resourceVersion (null: a new Lease). */
  private Lease record(Lease base, int leaseTransitions, Lease heldBase) {
    ZonedDateTime now = now();
    LeaseSpec spec = new LeaseSpec();
    spec.setHolderIdentity(config.identity());
    spec.setLeaseDurationSeconds(seconds(config.leaseDuration()));
    spec.setAcquireTime(
        heldBase != null
                && heldBase.getSpec() != null
                && heldBase.getSpec().getAcquireTime() != null
            ? heldBase.getSpec().getAcquireTime()
            : now);
    spec.setRenewTime(now);
    spec.setLeaseTransitions(leaseTransitions);
    Lease lease = new Lease();
    ObjectMetaBuilder meta =
        new ObjectMetaBuilder().withName(config.name()).withNamespace(config.namespace());
    if (base != null) {
      meta.withResourceVersion(base.getMetadata().getResourceVersion());
    }
    lease.setMetadata(meta.build());
    lease.setSpec(spec);
    return lease;
  }

  private ZonedDateTime now() {
    return ZonedDateTime.ofInstant(clock.instant(), ZoneOffset.UTC);
  }

  private void observe(Lease lease) {
    if (lease == null) {
      return;
    }
    String key =
        holder(lease)
            + "|"
            + lease.getSpec().getRenewTime()
            + "|"
            + lease.getSpec().getLeaseDurationSeconds();
    if (!key.equals(observedKey)) {
      observedKey = key;
      observedAtNanos = System.nanoTime();
    }
    last = lease;
  }

  private boolean expired() {
    return last != null && System.nanoTime() - observedAtNanos >= leaseDurationNanos(last);
  }

  private long leaseDurationNanos(Lease lease) {
    Integer s = lease.getSpec() == null ? null : lease.getSpec().getLeaseDurationSeconds();
    return s == null || s <= 0 ? config.leaseDuration().toNanos() : TimeUnit.SECONDS.toNanos(s);
  }

  private static int transitionsOf(Lease lease) {
    return lease == null || lease.getSpec() == null || lease.getSpec().getLeaseTransitions() == null
        ? 0
        : lease.getSpec().getLeaseTransitions();
  }

  static String holder(Lease lease) {
    return lease == null || lease.getSpec() == null ? null : lease.getSpec().getHolderIdentity();
  }

  private static Instant renewTime(Lease lease) {
    if (lease.getSpec() == null) {
      return null;
    }
    ZonedDateTime t =
        lease.getSpec().getRenewTime() != null
            ? lease.getSpec().getRenewTime()
            : lease.getSpec().getAcquireTime();
    return t == null ? null : t.toInstant();
  }

  private static boolean isEmpty(String s) {
    return s == null || s.isEmpty();
  }

  /** Whole seconds, rounded up (the Lease field is in seconds). */
  static int seconds(Duration d) {
    long ms = d.toMillis();
    return (int) Math.max(1, (ms + 999) / 1000);
  }

  private <T> T call(Callable<T> work, long timeoutNanos) throws Exception {
    Future<T> f = api.submit(work);
    try {
      return f.get(Math.max(1, timeoutNanos), TimeUnit.NANOSECONDS);
    } catch (TimeoutException e) {
      f.cancel(true);
      throw e;
    } catch (ExecutionException e) {
      if (e.getCause() instanceof Exception cause) {
        throw cause;
      }
      throw e;
    }
  }
}
