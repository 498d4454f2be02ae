package dev.vhostd.daemon.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheus.PrometheusConfig;
import io.micrometer.prometheus.PrometheusMeterRegistry;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * Prints the per-request cost of recording, in ns/op (a program, not a test):
 * <pre>
 * java -cp daemon/target/classes:daemon/target/test-classes:$(deps) dev.vhostd.daemon.metrics.QueueMetricsBenchmark
 * </pre>
 * "null-like" records what the null backend's requests look like (reads, OK, completed in the batch
 * they started): what the request path pays per request there, the in-flight gauge set per batch.
 * "baseline" does the same loop with no recording: it is what a no-op QueueMetrics subclass would
 * cost at best, so recording's real price is the difference. "micrometer" records the same request
 * through a Counter and a histogram Timer, the obvious alternative this design avoids. "scrape" is
 * the cost of one full exposition with 16 queues.
 */
@SuppressWarnings("deprecation")
public final class QueueMetricsBenchmark {
    private static final int OPS = 20_000_000;
    private static final int ROUNDS = 5;
    private static final long[] LATENCIES = new long[1024];
    private static final RequestType[] TYPES = new RequestType[1024];
    private static final RequestStatus[] STATUSES = new RequestStatus[1024];
    static long sink;

    public static void main(String[] args) {
        SplittableRandom rnd = new SplittableRandom(42);
        for (int i = 0; i < LATENCIES.length; i++) {
            // log-uniform from 2 us to 5 ms: exercises the bucket search across its range
            LATENCIES[i] = (long) Math.exp(Math.log(2_000) + rnd.nextDouble() * (Math.log(5_000_000) - Math.log(2_000)));
            TYPES[i] = rnd.nextInt(10) < 7 ? RequestType.READ : RequestType.WRITE;
            STATUSES[i] = rnd.nextInt(1000) == 0 ? RequestStatus.IOERR : RequestStatus.OK;
        }
        QueueMetrics q = new QueueMetrics(0);
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        Counter counter = Counter.builder("bench.requests").register(registry);
        Timer timer = Timer.builder("bench.latency").publishPercentileHistogram().register(registry);

        for (int round = 0; round < ROUNDS; round++) {
            report(round, "baseline (no recording)", time(() -> baseline()));
            report(round, "requestCompleted + in-flight set per request", time(() -> record(q)));
            report(round, "requestCompleted only", time(() -> completeOnly(q)));
            report(round, "null-like: requestCompleted", time(() -> nullLikeDirect(q)));
            report(round, "null-like: in flight set per batch of 4", time(() -> nullLikeBatch(q, 4)));
            report(round, "poller counters (kick, notify, poll)", time(() -> pollerCounters(q)));
            report(round, "micrometer Counter+Timer", time(() -> micrometer(counter, timer)));
            System.out.println();
        }
        System.out.printf("results summary (median of %d rounds, ns/op):%n", ROUNDS);
        RESULTS.forEach((name, values) -> {
            double[] v = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
            System.out.printf("  %-40s %7.2f  (min %.2f)%n", name, v[v.length / 2], v[0]);
        });

        try (VhostdMetrics metrics = VhostdMetrics.enabled()) {
            DeviceMetrics d = metrics.device("vda");
            for (int i = 0; i < 16; i++) {
                record(d.queue(i));
            }
            int scrapes = 200;
            long best = Long.MAX_VALUE;
            int bytes = 0;
            for (int round = 0; round < 5; round++) {
                long t0 = System.nanoTime();
                for (int i = 0; i < scrapes; i++) {
                    bytes = metrics.scrape().length();
                }
                best = Math.min(best, (System.nanoTime() - t0) / scrapes);
            }
            System.out.printf("scrape, 1 device x 16 queues (read+write histograms): %.2f ms, %d bytes%n",
                    best / 1e6, bytes);
        }
        registry.close();
        System.out.println("(sink " + sink + " " + q.requests(RequestType.READ, RequestStatus.OK) + ")");
    }

    private static final java.util.Map<String, java.util.List<Double>> RESULTS = new java.util.LinkedHashMap<>();

    private static void report(int round, String name, double nsPerOp) {
        System.out.printf("round %d  %-40s %7.2f ns/op%n", round, name, nsPerOp);
        if (round >= 2) { // the first rounds are JIT warm-up
            RESULTS.computeIfAbsent(name, k -> new java.util.ArrayList<>()).add(nsPerOp);
        }
    }

    private static double time(Runnable r) {
        long t0 = System.nanoTime();
        r.run();
        return (double) (System.nanoTime() - t0) / OPS;
    }

    private static void baseline() {
        long acc = 0;
        for (int i = 0; i < OPS; i++) {
            int k = i & 1023;
            acc += LATENCIES[k] + TYPES[k].ordinal() + STATUSES[k].ordinal();
        }
        sink += acc;
    }

    private static void record(QueueMetrics q) {
        for (int i = 0; i < OPS; i++) {
            int k = i & 1023;
            q.setInFlight(1);
            q.requestCompleted(TYPES[k], STATUSES[k], 4096, LATENCIES[k]);
        }
    }

    /** The null backend's requests: all reads, all OK, completed in the batch they started (0 ns). */
    private static void nullLikeDirect(QueueMetrics q) {
        for (int i = 0; i < OPS; i++) {
            q.requestCompleted(RequestType.READ, RequestStatus.OK, 4096, 0);
        }
    }

    private static void nullLikeBatch(QueueMetrics q, int size) {
        for (int i = 0; i < OPS; i++) {
            q.requestCompleted(RequestType.READ, RequestStatus.OK, 4096, 0);
            if (i % size == size - 1) {
                q.setInFlight(i & 7);
            }
        }
    }

    private static void completeOnly(QueueMetrics q) {
        for (int i = 0; i < OPS; i++) {
            int k = i & 1023;
            q.requestCompleted(TYPES[k], STATUSES[k], 4096, LATENCIES[k]);
        }
    }

    private static void pollerCounters(QueueMetrics q) {
        for (int i = 0; i < OPS; i++) {
            q.kicksReceived(1);
            q.notificationSuppressed();
            q.pollIteration((i & 3) != 0);
        }
    }

    private static void micrometer(Counter counter, Timer timer) {
        for (int i = 0; i < OPS; i++) {
            int k = i & 1023;
            counter.increment();
            timer.record(LATENCIES[k], TimeUnit.NANOSECONDS);
        }
    }

}
