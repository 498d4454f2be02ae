package dev.vhostd.daemon.bench;

import java.io.IOException;
import java.io.PrintWriter;
import java.util.Locale;

import dev.vhostd.protocol.frontend.VhostUserBlkFrontend;
import dev.vhostd.sys.Epoll;
import dev.vhostd.sys.EventFd;

/**
 * Drives every queue of one device from a single thread: reap, time, replace, publish, kick when
 * asked. When a pass finds nothing it busy-polls for {@code pollMicros}, then arms notifications
 * (used_event, or clears NO_INTERRUPT), re-checks, and sleeps in epoll on the call eventfds, the way a
 * guest driver waits for its interrupt. One thread leaves the other core to the back-end on a
 * two-core machine; it is enough to keep up (see the README for measured front-end cost).
 */
public final class BenchRunner {
    private final VhostUserBlkFrontend device;
    private final BenchConfig config;
    private final PrintWriter progress;
    private final long backendPid;
    private final RunStats stats = new RunStats();
    private final QueueLoad[] loads;
    private final EventFd callDrain = new EventFd();
    private final long blocks;
    /**
     * EPOLLET (epoll(7)): every eventfd write raises a new edge, so the call eventfds need not be read on
     * each wake-up; their counters keep summing the signals and are read once per interval for the count.
     */
    private static final int EPOLLET = 1 << 31;

    public BenchRunner(VhostUserBlkFrontend device, BenchConfig config, long backendPid, PrintWriter progress) {
        this.device = device;
        this.config = config;
        this.progress = progress;
        this.backendPid = backendPid;
        long capacity = device.capacityBytes();
        if (capacity == 0) {
            throw new IllegalArgumentException("the disk is empty (the back-end reports a capacity of 0 bytes)");
        }
        long range = config.rangeBytes() == 0 ? capacity : config.rangeBytes();
        if (range <= 0) {
            throw new IllegalArgumentException("the back-end did not report the disk size (no CONFIG protocol "
                    + "feature): give --size");
        }
        if (capacity > 0 && range > capacity) {
            throw new IllegalArgumentException("--size " + range + " exceeds the disk (" + capacity + " bytes)");
        }
        if (config.blockSize() % device.blockSize() != 0) {
            throw new IllegalArgumentException("--bs " + config.blockSize() + " is not a multiple of the disk's logical "
                    + "block size " + device.blockSize());
        }
        if (device.readOnly() && config.rw().writes) {
            throw new IllegalArgumentException("the disk is read-only: use --rw randread or read");
        }
        blocks = range / config.blockSize();
        if (config.verify() && blocks < 4L * config.queues() * config.depth()) {
            throw new IllegalArgumentException("--verify needs at least 4 x queues x depth blocks in the range; got "
                    + blocks);
        }
        loads = new QueueLoad[config.queues()];
        for (int i = 0; i < loads.length; i++) {
            loads[i] = new QueueLoad(device.queue(i), device.callFd(i), device.ram(), config.depth(), config.blockSize(),
                    stats);
        }
    }

    /** Guest RAM the runner needs for its buffers, to size {@link VhostUserBlkFrontend.Options#bufferBytes()}. */
    public static long bufferBytes(BenchConfig c) {
        long perQueue = (long) c.depth() * c.blockSize() + (long) c.depth() * 16 + c.depth() + 3 * 4096L;
        return Math.multiplyExact(perQueue, c.queues());
    }

    public BenchResult run() throws IOException {
        try (Epoll epoll = new Epoll(loads.length)) {
            for (int i = 0; i < loads.length; i++) {
                epoll.add(loads[i].callFd, Epoll.EPOLLIN | EPOLLET, i);
            }
            Workload workload = new Workload(config.rw(), config.readPercent(), blocks, Long.MAX_VALUE,
                    config.verify(), System.nanoTime());
            if (config.verify() && config.rw().reads) {
                prefill(epoll);
                workload = new Workload(prefillState, config.rw(), config.readPercent(), Long.MAX_VALUE);
            }
            return measure(epoll, workload);
        }
    }

    private Workload prefillState;

    /** Verify mode with reads: write every block once so each read has a known expected content. */
    private void prefill(Epoll epoll) {
        progress.printf(Locale.ROOT, "verify: writing all %d blocks of %d bytes first%n", blocks, config.blockSize());
        prefillState = new Workload(RwMode.WRITE, 0, blocks, blocks, true, 1);
        long now = System.nanoTime();
        for (QueueLoad l : loads) {
            l.now = now;
            l.start(prefillState);
            l.queue.kickIfNeeded();
        }
        drainAll(epoll, now + 600_000_000_000L, "verify prefill", false);
        if (stats.errors > 0) {
            throw new IllegalStateException("verify prefill: " + stats.errors + " writes failed; the disk cannot be verified");
        }
        stats.reset();
    }

    private BenchResult measure(Epoll epoll, Workload workload) {
        drainCalls();
        stats.calls = 0;
        long start = System.nanoTime();
        long minRampEnd = start + (long) (config.rampSeconds() * 1e9);
        // Adaptive ramp: past the minimum, keep warming while throughput still rises (JIT of a Java
        // front-end or back-end, page cache, CPU frequency), up to the maximum.
        boolean adaptive = config.rampMaxSeconds() > config.rampSeconds();
        long maxRampEnd = start + (long) (Math.max(config.rampSeconds(), config.rampMaxSeconds()) * 1e9);
        boolean ramping = config.rampSeconds() > 0;
        long end = ramping ? Long.MAX_VALUE : start + (long) (config.seconds() * 1e9);
        long measuredFrom = start;
        long backendCpu0 = ProcessCpu.nanos(backendPid);
        long frontendCpu0 = ProcessCpu.nanos(ProcessHandle.current().pid());
        long kicks0 = kicks();
        for (QueueLoad l : loads) {
            l.now = start;
            l.start(workload);
            l.queue.kickIfNeeded();
        }
        long nextTick = start + 1_000_000_000L;
        long opsAtTick = 0;
        long previousSecond = -1;
        long pollNanos = config.pollMicros() * 1000;
        long idleSince = -1;
        while (true) {
            long now = System.nanoTime();
            boolean rampDone = ramping && !adaptive && now >= minRampEnd;
            if (now >= nextTick) {
                long ops = stats.ops();
                long second = ops - opsAtTick;
                progress.printf(Locale.ROOT, "[%5.1fs]%s %,10d IOPS%n", (now - start) / 1e9, ramping ? " ramp" : "",
                        second);
                progress.flush();
                if (ramping && adaptive && now >= minRampEnd
                        && ((previousSecond >= 0 && second <= previousSecond * 1.05) || now >= maxRampEnd)) {
                    rampDone = true;
                }
                previousSecond = second;
                opsAtTick = ops;
                nextTick += 1_000_000_000L;
            }
            if (rampDone) {
                ramping = false;
                stats.reset();
                drainCalls();
                stats.calls = 0;
                opsAtTick = 0;
                measuredFrom = now;
                end = now + (long) (config.seconds() * 1e9);
                backendCpu0 = ProcessCpu.nanos(backendPid);
                frontendCpu0 = ProcessCpu.nanos(ProcessHandle.current().pid());
                kicks0 = kicks();
            }
            if (now >= end) {
                break;
            }
            int done = pass(now);
            if (done > 0) {
                idleSince = -1;
                continue;
            }
            if (pollNanos > 0) {
                if (idleSince < 0) {
                    idleSince = now;
                }
                if (now - idleSince < pollNanos) {
                    Thread.onSpinWait();
                    continue;
                }
            }
            idleSince = -1;
            sleep(epoll, (int) Math.max(1, Math.min(100, (Math.min(nextTick, end) - now) / 1_000_000 + 1)));
        }
        long measuredEnd = System.nanoTime();
        long backendCpu1 = ProcessCpu.nanos(backendPid);
        long frontendCpu1 = ProcessCpu.nanos(ProcessHandle.current().pid());
        long kicks = kicks() - kicks0;
        drainCalls();
        // Counters and latencies stop here; the rest only brings the in-flight requests home.
        long ops = stats.ops();
        double seconds = (measuredEnd - measuredFrom) / 1e9;
        BenchResult r = new BenchResult(config.rw().label(), config.queues(), config.depth(), config.blockSize(),
                device.queue(0).eventIdx(), seconds, ops, stats.reads, stats.writes, stats.errors, stats.mismatches,
                ops / seconds, stats.bytes / seconds / 1e6, stats.latency.mean() / 1e3,
                stats.latency.percentile(50) / 1e3, stats.latency.percentile(99) / 1e3,
                stats.latency.percentile(99.9) / 1e3, stats.latency.max() / 1e3, perRequest(kicks, ops),
                perRequest(stats.calls, ops), cpuPerRequest(backendCpu0, backendCpu1, ops),
                cpuPerRequest(frontendCpu0, frontendCpu1, ops), backendPid, stats.mismatchReports);
        long mismatchesBefore = stats.mismatches;
        drainAll(epoll, System.nanoTime() + 10_000_000_000L, "final drain", true);
        if (stats.mismatches > mismatchesBefore) {
            r = new BenchResult(r.rw(), r.queues(), r.depth(), r.blockSize(), r.eventIdx(), r.seconds(), r.ops(),
                    r.reads(), r.writes(), r.errors(), stats.mismatches, r.iops(), r.mbPerSecond(), r.latMeanUs(),
                    r.latP50Us(), r.latP99Us(), r.latP999Us(), r.latMaxUs(), r.kicksPerRequest(),
                    r.callsPerRequest(), r.backendCpuUsPerRequest(), r.frontendCpuUsPerRequest(), r.backendPid(),
                    stats.mismatchReports);
        }
        return r;
    }

    /** One pass over all queues; returns how many requests completed. */
    private int pass(long now) {
        int done = 0;
        for (QueueLoad l : loads) {
            l.now = now;
            done += l.queue.reapUsed(l);
            l.queue.kickIfNeeded();
        }
        return done;
    }

    /** Arms notifications on every queue and sleeps until one is signalled, unless completions already wait. */
    private void sleep(Epoll epoll, int timeoutMs) {
        boolean pending = false;
        for (QueueLoad l : loads) {
            pending |= l.queue.enableNotifications();
        }
        if (!pending) {
            epoll.await(timeoutMs);
        }
        for (QueueLoad l : loads) {
            l.queue.disableNotifications();
        }
    }

    /** Reaps until nothing is in flight (optionally no longer replacing completions). */
    private void drainAll(Epoll epoll, long deadline, String what, boolean stopIssuing) {
        for (QueueLoad l : loads) {
            if (stopIssuing) {
                l.stopIssuing();
            }
        }
        while (true) {
            long now = System.nanoTime();
            int inFlight = 0;
            pass(now);
            for (QueueLoad l : loads) {
                inFlight += l.queue.inFlight();
            }
            if (inFlight == 0) {
                return;
            }
            if (now > deadline) {
                throw new IllegalStateException(what + ": " + inFlight + " requests still in flight; the back-end stopped "
                        + "completing requests");
            }
            sleep(epoll, 10);
        }
    }

    private void drainCalls() {
        for (QueueLoad l : loads) {
            stats.calls += callDrain.drain(l.callFd);
        }
    }

    private long kicks() {
        long k = 0;
        for (QueueLoad l : loads) {
            k += l.queue.kicks();
        }
        return k;
    }

    private static double perRequest(long count, long ops) {
        return ops == 0 ? 0 : (double) count / ops;
    }

    private static double cpuPerRequest(long before, long after, long ops) {
        if (before < 0 || after < 0 || ops == 0) {
            return -1;
        }
        return (after - before) / 1e3 / ops;
    }
}
