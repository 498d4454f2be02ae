package dev.vhostd.backend;

import dev.vhostd.sys.Epoll;
import dev.vhostd.sys.EventFd;
import dev.vhostd.sys.Libc;
import dev.vhostd.sys.MemFd;
import dev.vhostd.sys.OwnedFd;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

/**
 * Prints IOPS for 4 KiB random reads and writes at queue depth 32, one thread, for each backend
 * and engine, with buffers in a shared memfd mapping like guest memory. A program, not a test:
 *
 * <pre>
 * java --enable-native-access=ALL-UNNAMED -cp backends/target/test-classes:backends/target/classes:protocol/target/classes \
 *     dev.vhostd.backend.BackendBench [seconds-per-run] [file-size] [label-filter]
 * </pre>
 *
 * The loop is a poller's: submit what completed, one flushSubmissions per batch, and when nothing
 * is ready wait on the completion eventfd.
 */
public final class BackendBench {
    private static final int DEPTH = 32;
    private static final int BLOCK = 4096;

    private record Config(String label, String uri, BackendOptions options) {}

    public static void main(String[] args) throws IOException {
        double seconds = args.length > 0 ? Double.parseDouble(args[0]) : 3;
        long size = args.length > 1 ? Sizes.parse(args[1]) : 256L << 20;
        String filter = args.length > 2 ? args[2] : "";
        Path shm = Files.createTempDirectory(Path.of("/dev/shm"), "vhostd-bench");
        Path tmp = Files.createTempDirectory(Path.of("/tmp"), "vhostd-bench");
        BackendOptions base = BackendOptions.defaults().withSize(size);
        List<Config> configs = new ArrayList<>();
        configs.add(new Config("null", "null:" + Sizes.format(size), BackendOptions.defaults()));
        configs.add(new Config("memory", "memory:" + Sizes.format(size), BackendOptions.defaults()));
        for (String engine : new String[] {"sync", "io_uring"}) {
            Aio aio = Aio.parse(engine);
            configs.add(new Config("file /dev/shm " + engine, "file:" + shm.resolve("disk.img"), base.withAio(aio)));
            configs.add(new Config("file /tmp " + engine, "file:" + tmp.resolve("disk.img"), base.withAio(aio)));
            configs.add(new Config("file /tmp O_DIRECT " + engine, "file:" + tmp.resolve("disk.img"),
                    base.withAio(aio).withDirect(true)));
        }
        System.out.printf(Locale.ROOT, "4 KiB random I/O, depth %d, %.1f s per run, %s per disk, one thread%n",
                DEPTH, seconds, Sizes.format(size));
        System.out.printf(Locale.ROOT, "%-28s %14s %14s%n", "backend", "randread IOPS", "randwrite IOPS");
        try {
            for (Config c : configs) {
                if (!c.label().contains(filter)) {
                    continue;
                }
                if (c.options().aio() == Aio.IO_URING && !IoUringSupport.available()) {
                    System.out.printf(Locale.ROOT, "%-28s skipped: %s%n", c.label(), IoUringSupport.unavailableReason());
                    continue;
                }
                try (BlockBackend b = Backends.open(c.uri(), c.options())) {
                    prefill(b);
                    run(b, IoOp.Type.READ, seconds / 3); // warm-up
                    double read = run(b, IoOp.Type.READ, seconds);
                    double write = run(b, IoOp.Type.WRITE, seconds);
                    System.out.printf(Locale.ROOT, "%-28s %14.0f %14.0f%n", c.label(), read, write);
                }
            }
        } finally {
            deleteTree(shm);
            deleteTree(tmp);
        }
    }

    /** Writes the whole disk once so reads find data rather than holes. */
    private static void prefill(BlockBackend b) {
        try (Arena a = Arena.ofConfined(); BackendQueue q = b.openQueue()) {
            MemorySegment buf = a.allocate(1 << 20, 4096);
            buf.fill((byte) 0xA5);
            for (long off = 0; off < b.capacity(); off += buf.byteSize()) {
                IoOp op = new IoOp(1).setData(IoOp.Type.WRITE, off);
                op.addSegment(buf.asSlice(0, Math.min(buf.byteSize(), b.capacity() - off)));
                if (!q.submit(op)) {
                    q.flushSubmissions();
                    q.drain(o -> { });
                }
                if (op.result() != 0) {
                    throw new IllegalStateException("prefill write failed: " + op.result());
                }
            }
        }
    }

    /** Operations per second of {@code type} at depth {@link #DEPTH} for {@code seconds}. */
    private static double run(BlockBackend b, IoOp.Type type, double seconds) {
        long blocks = b.capacity() / BLOCK;
        long memSize = (long) DEPTH * BLOCK;
        try (OwnedFd memfd = new OwnedFd(MemFd.create("bench-guest", memSize));
             Arena guest = Arena.ofShared();
             BackendQueue q = b.openQueue();
             Epoll epoll = new Epoll(1)) {
            MemorySegment ram = Libc.mmap(guest, memSize, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, memfd.fd(), 0);
            IoOp[] ops = new IoOp[DEPTH];
            for (int i = 0; i < DEPTH; i++) {
                ops[i] = new IoOp(1);
                ops[i].attach(ram.asSlice((long) i * BLOCK, BLOCK));
            }
            int efd = q.completionFd();
            if (efd >= 0) {
                epoll.add(efd, Epoll.EPOLLIN, 1);
            }
            EventFd events = new EventFd();
            long rng = 0x9E3779B97F4A7C15L;
            long completed = 0;
            long errors = 0;
            long deadline = System.nanoTime() + (long) (seconds * 1e9);
            long start = System.nanoTime();
            IoOp[] ready = ops.clone();
            int readyCount = DEPTH;
            int[] reapedCount = {0};
            IoOp[] reaped = new IoOp[DEPTH];
            BackendQueue.CompletionSink sink = op -> reaped[reapedCount[0]++] = op;
            while (System.nanoTime() < deadline) {
                // Submit every free op. One that completes at once is resubmitted (up to 256 times
                // per round, so the clock is checked) and stays free if it never goes in flight.
                int stillReady = 0;
                for (int i = 0; i < readyCount; i++) {
                    IoOp op = ready[i];
                    for (int spins = 0; ; ) {
                        long x = rng;
                        x ^= x << 13;
                        x ^= x >>> 7;
                        x ^= x << 17;
                        rng = x;
                        op.setData(type, Long.remainderUnsigned(x, blocks) * BLOCK);
                        op.addSegment((MemorySegment) op.attachment());
                        if (!q.submit(op)) {
                            break;
                        }
                        errors += op.result() != 0 ? 1 : 0;
                        op.clearSegments();
                        completed++;
                        if (++spins == 256) {
                            ready[stillReady++] = op;
                            break;
                        }
                    }
                }
                readyCount = stillReady;
                q.flushSubmissions();
                if (q.inFlight() == 0) {
                    continue;
                }
                reapedCount[0] = 0;
                if (q.reap(sink) == 0) {
                    epoll.await(10);
                    events.drain(efd);
                    q.reap(sink);
                }
                for (int i = 0; i < reapedCount[0]; i++) {
                    IoOp op = reaped[i];
                    errors += op.result() != 0 ? 1 : 0;
                    op.clearSegments();
                    ready[readyCount++] = op;
                }
                completed += reapedCount[0];
            }
            q.drain(op -> { });
            double elapsed = (System.nanoTime() - start) / 1e9;
            if (errors > 0) {
                throw new IllegalStateException(errors + " " + type + " ops failed on " + b.describe());
            }
            return completed / elapsed;
        }
    }

    private static void deleteTree(Path p) throws IOException {
        try (var s = Files.walk(p)) {
            for (Path q : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(q);
            }
        }
    }
}
