package io.kubezen.watcher.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.kubezen.watcher.e2e.JarRunner.Running;
import io.kubezen.watcher.testing.PostgresServer;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The database paused (SIGSTOP of every PostgreSQL process) under webhook load, then resumed: while
 * paused the webhooks get 503 with Retry-After and /ready is 503; afterwards the watcher recovers
 * by itself, and no acknowledged finding is lost.
 */
class PostgresOutageIT {
  @TempDir Path dir;

  @Test
  @Timeout(120)
  void aPausedDatabaseMeans503sAndLosesNothingAcknowledged() throws Exception {
    PostgresServer server = PostgresServer.get();
    PostgresJars jars = new PostgresJars(dir, server.createDatabase("outage"));
    Running r =
        jars.start(
            "east", Map.of("POSTGRES_STATEMENT_TIMEOUT", "2s", "POSTGRES_CONNECT_TIMEOUT", "4s"));
    boolean paused = false;
    try {
      jars.jar.awaitReady(r);
      Set<String> acked = ConcurrentHashMap.newKeySet();
      AtomicInteger next = new AtomicInteger();
      AtomicInteger ok = new AtomicInteger();
      AtomicInteger unavailable = new AtomicInteger();
      AtomicInteger withRetryAfter = new AtomicInteger();
      AtomicInteger okWhilePaused = new AtomicInteger();
      AtomicInteger timedOut = new AtomicInteger();
      AtomicBoolean stop = new AtomicBoolean();
      AtomicBoolean pausedNow = new AtomicBoolean();
      ExecutorService clients = Executors.newFixedThreadPool(3);
      List<Future<?>> work = new ArrayList<>();
      for (int t = 0; t < 3; t++) {
        work.add(
            clients.submit(
                () -> {
                  while (!stop.get()) {
                    int n = next.getAndIncrement();
                    boolean sentWhilePaused = pausedNow.get();
                    HttpResponse<String> resp;
                    try {
                      resp = jars.post(r, PostgresJars.alerts("pod-" + n, 0, 2));
                    } catch (java.net.http.HttpTimeoutException e) {
                      timedOut.incrementAndGet(); // not acknowledged: the sender retries
                      continue;
                    }
                    if (resp.statusCode() == 200) {
                      acked.add("pod-" + n + "-0");
                      acked.add("pod-" + n + "-1");
                      ok.incrementAndGet();
                      if (sentWhilePaused && pausedNow.get()) {
                        okWhilePaused.incrementAndGet();
                      }
                    } else {
                      assertThat(resp.statusCode()).as(resp.body()).isEqualTo(503);
                      unavailable.incrementAndGet();
                      if (resp.headers().firstValue("Retry-After").isPresent()) {
                        withRetryAfter.incrementAndGet();
                      }
                      Thread.sleep(100);
                    }
                  }
                  return null;
                }));
      }
      Thread.sleep(3_000);
      int okBefore = ok.get();
      assertThat(okBefore).as("acknowledged before the outage").isPositive();

      server.signal("STOP");
      paused = true;
      pausedNow.set(true);
      long pauseStart = System.nanoTime();
      boolean notReadySeen = false;
      // Long enough for a write to fail: the client gives up on the silent server after the
      // statement
      // timeout + 2 s, a new connection after the connect timeout.
      while (System.nanoTime() - pauseStart < Duration.ofSeconds(15).toNanos()) {
        HttpResponse<String> ready =
            jars.jar.call("GET", "http://127.0.0.1:" + r.port() + "/ready", null);
        if (ready.statusCode() == 503) {
          notReadySeen = true;
        }
        Thread.sleep(500);
      }
      int unavailableWhilePaused = unavailable.get();
      pausedNow.set(false);
      server.signal("CONT");
      paused = false;

      // Recovery without help: ready again, and new findings acknowledged.
      long resumed = System.nanoTime();
      while (jars.jar.call("GET", "http://127.0.0.1:" + r.port() + "/ready", null).statusCode()
          != 200) {
        assertThat(System.nanoTime() - resumed)
            .as("ready again within 30 s")
            .isLessThan(Duration.ofSeconds(30).toNanos());
        Thread.sleep(200);
      }
      int okAtResume = ok.get();
      Thread.sleep(4_000);
      stop.set(true);
      for (Future<?> f : work) {
        f.get();
      }
      clients.shutdown();

      assertThat(notReadySeen).as("/ready answered 503 while the database was paused").isTrue();
      assertThat(unavailableWhilePaused)
          .as("webhooks answered 503 while the database was paused")
          .isPositive();
      assertThat(withRetryAfter.get()).isEqualTo(unavailable.get());
      assertThat(okWhilePaused.get())
          .as("nothing acknowledged while the database could not commit")
          .isZero();
      assertThat(ok.get()).as("acknowledged after the outage").isGreaterThan(okAtResume);

      Map<String, Integer> rows = jars.rowsByPod("east");
      for (String pod : acked) {
        assertThat(rows.get(pod)).as("acknowledged finding %s stored once", pod).isEqualTo(1);
      }
      System.out.printf(
          "postgres outage: %d acknowledged requests (%d before), %d answered 503 (%d while paused),"
              + " %d client timeouts%n",
          ok.get(), okBefore, unavailable.get(), unavailableWhilePaused, timedOut.get());
    } catch (AssertionError | Exception e) {
      throw new AssertionError(
          e.getMessage() + "\n--- jar log\n" + PostgresChaosIT.tail(r.log()), e);
    } finally {
      if (paused) {
        server.signal("CONT");
      }
      JarRunner.terminate(r, Duration.ofSeconds(10));
    }
  }
}
