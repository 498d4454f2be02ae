package dev.vhostd.backend;

import dev.vhostd.sys.Errno;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The backend contract on a real RBD image of a single-node Ceph cluster this class starts (with
 * cephx, as production clusters run: the contract's client.admin authenticates, and users with too
 * few caps are refused with what to fix), plus
 * what only RBD has: snapshots exported read-only, resize, the exclusive lock, the errors an operator
 * sees, and requests failing in bounded time when the cluster goes away (the last test: it stops
 * the OSD).
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class RbdBackendTest extends BlockBackendContract {
    private static CephCluster ceph;

    @BeforeAll
    static void startCluster() throws Exception {
        ceph = CephCluster.start(true);
    }

    @AfterAll
    static void stopCluster() throws Exception {
        if (ceph != null) {
            ceph.close();
        }
    }

    private static String uri(String image, String options) {
        return "rbd:rbd/" + image + ",conf=" + ceph.conf() + (options.isEmpty() ? "" : "," + options);
    }

    private static String newImage(long size) throws Exception {
        String name = ceph.newImageName("contract");
        ceph.rbd("create", "--size", Long.toString(size >> 20) + "M", "rbd/" + name);
        return name;
    }

    @Override
    protected BlockBackend openBackend(Path dir) throws IOException {
        try {
            return Backends.open(uri(newImage(CAPACITY), ""), BackendOptions.defaults());
        } catch (IOException | RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IOException(e);
        }
    }

    @Override
    protected boolean completesAsynchronously() {
        return true;
    }

    @Test
    void configComesFromTheImage() {
        assertEquals(4L << 20, backend.optimalIoBytes(), "opt_io_size is the object size (order 22)");
        assertTrue(backend.supportsDiscard());
        assertTrue(backend.supportsWriteZeroes());
        assertFalse(backend.hasVolatileCache(), "librbd's cache is off: an acknowledged write is on the OSD");
        assertTrue(backend.describe().startsWith("rbd:rbd/contract-"), backend.describe());
    }

    @Test
    void theClusterLatencyIsRecordedPerRequest() {
        AtomicLong samples = new AtomicLong();
        AtomicLong total = new AtomicLong();
        backend.latencyRecorder(n -> {
            samples.incrementAndGet();
            total.addAndGet(n);
        });
        assertTrue(backend.recordsLatency());
        for (int i = 0; i < 5; i++) {
            assertEquals(0, run(data(IoOp.Type.WRITE, i * 4096L, patterned(4096, i))));
        }
        assertEquals(5, samples.get());
        assertTrue(total.get() > 0);
    }

    /**
     * librbd signals one eventfd per image and hands its completions to whichever thread polls, so
     * with two queues on two threads each must get exactly its own ops back, woken by its own fd.
     */
    @Test
    void twoQueuesOnTwoThreadsEachGetTheirOwnCompletions() throws Exception {
        queue.close();
        queue = null;
        int perThread = 200;
        List<Throwable> failures = java.util.Collections.synchronizedList(new ArrayList<>());
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 2; t++) {
            int base = t;
            threads.add(Thread.ofPlatform().start(() -> {
                try (BackendQueue q = backend.openQueue(); dev.vhostd.sys.Epoll epoll = new dev.vhostd.sys.Epoll(1)) {
                    dev.vhostd.sys.EventFd efd = new dev.vhostd.sys.EventFd();
                    epoll.add(q.completionFd(), dev.vhostd.sys.Epoll.EPOLLIN, 1);
                    java.util.Set<IoOp> mine = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
                    int done = 0;
                    int submitted = 0;
                    long deadline = System.nanoTime() + 60_000_000_000L;
                    while (done < perThread) {
                        // Keep up to 16 in flight; each thread writes its own 4 KiB blocks.
                        while (submitted < perThread && submitted - done < 16) {
                            long at = ((long) (submitted * 2 + base) % 1024) * 4096;
                            IoOp op = new IoOp(1).setData(IoOp.Type.WRITE, at);
                            op.addSegment(patterned(4096, base * 1000 + submitted));
                            submitted++;
                            if (q.submit(op)) {
                                assertEquals(0, op.result());
                                done++;
                            } else {
                                mine.add(op);
                            }
                        }
                        if (System.nanoTime() > deadline) {
                            throw new AssertionError("thread " + base + ": " + done + " of " + perThread + " completed");
                        }
                        epoll.await(100);
                        efd.drain(q.completionFd());
                        int[] got = {0};
                        q.reap(op -> {
                            if (!mine.remove(op)) {
                                throw new AssertionError("thread " + base + " reaped an op it did not submit");
                            }
                            assertEquals(0, op.result());
                            got[0]++;
                        });
                        done += got[0];
                    }
                    assertTrue(mine.isEmpty());
                } catch (Throwable e) {
                    failures.add(e);
                }
            }));
        }
        for (Thread t : threads) {
            t.join(120_000);
        }
        assertTrue(failures.isEmpty(), () -> "failures: " + failures);
    }

    @Test
    void aSnapshotIsExportedReadOnlyWithItsOwnContent() throws Exception {
        String image = newImage(CAPACITY);
        try (BlockBackend head = Backends.open(uri(image, ""), BackendOptions.defaults());
             BackendQueue q = head.openQueue()) {
            queueRun(q, data(IoOp.Type.WRITE, 0, patterned(8192, 41)));
            ceph.rbd("snap", "create", "rbd/" + image + "@before");
            queueRun(q, data(IoOp.Type.WRITE, 0, patterned(8192, 42)));
        }
        try (BlockBackend snap = Backends.open(uri(image + "@before", ""), BackendOptions.defaults());
             BackendQueue q = snap.openQueue()) {
            assertTrue(snap.readOnly(), "a snapshot is read-only");
            assertFalse(snap.supportsDiscard());
            assertTrue(snap.describe().contains("@before"), snap.describe());
            MemorySegment buf = arena.allocate(8192, 4096);
            assertEquals(0, queueRun(q, data(IoOp.Type.READ, 0, buf)));
            assertContent(buf, 0, off -> pattern(41, off));
            assertEquals(-Errno.EROFS, queueRun(q, data(IoOp.Type.WRITE, 0, patterned(4096, 1))));
            assertEquals(-Errno.EROFS, queueRun(q, range(IoOp.Type.DISCARD, 0, 4096, true)));
        }
        BackendOpenException e = assertThrows(BackendOpenException.class,
                () -> Backends.open(uri(image + "@nosuch", ""), BackendOptions.defaults()));
        assertTrue(e.getMessage().contains("snapshot 'nosuch' does not exist"), e.getMessage());
    }

    @Test
    void resizeGrowsTheImageAndPicksUpGrowthFromOutside() throws Exception {
        assertEquals(16L << 20, backend.resize(16L << 20));
        assertEquals(16L << 20, backend.capacity());
        assertTrue(ceph.rbd("info", "--format", "json", imageOf(backend)).contains("\"size\":16777216"));
        // The new end is usable at once.
        long last = (16L << 20) - 4096;
        assertEquals(0, run(data(IoOp.Type.WRITE, last, patterned(4096, 7))));
        assertContent(read(last, 4096), last, off -> pattern(7, off - last));

        ceph.rbd("resize", "--size", "32M", imageOf(backend));
        assertEquals(16L << 20, backend.capacity(), "growth outside is taken only when asked");
        assertEquals(32L << 20, backend.resize(0));
        assertEquals(32L << 20, backend.capacity());

        assertThrows(IllegalArgumentException.class, () -> backend.resize(8L << 20), "shrinking is refused");
        assertThrows(IllegalArgumentException.class, () -> backend.resize((40L << 20) + 100), "unaligned size");
        assertEquals(32L << 20, backend.capacity());
    }

    private static String imageOf(BlockBackend b) {
        String d = b.describe();
        return d.substring("rbd:".length()).split(" ")[0];
    }

    @Test
    void aSecondClientCannotOpenAnImageWhoseLockIsHeld() throws Exception {
        // The contract's backend holds the lock of its image since open, even before any write.
        BackendOpenException e = assertThrows(BackendOpenException.class,
                () -> Backends.open(uri(imageOf(backend).substring("rbd/".length()), "lock_timeout=2"),
                        BackendOptions.defaults()));
        assertTrue(e.getMessage().contains("holds the image's exclusive lock and is alive"), e.getMessage());
        // The owner keeps working.
        assertEquals(0, run(data(IoOp.Type.WRITE, 0, patterned(4096, 3))));
        // Read-only openers need no lock.
        try (BlockBackend ro = Backends.open(uri(imageOf(backend).substring("rbd/".length()), ""),
                BackendOptions.defaults().withReadOnly(true))) {
            assertTrue(ro.readOnly());
        }
    }

    /** Runs qemu-io on an image of the cluster through QEMU's driver=rbd (qemu-block-extra). */
    private static Process qemuIo(String image, Path output, String... commands) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("qemu-io", "--image-opts",
                "driver=rbd,pool=rbd,image=" + image + ",conf=" + ceph.conf()));
        for (String c : commands) {
            cmd.add("-c");
            cmd.add(c);
        }
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(output.toFile()).start();
    }

    private static int awaitExit(Process p, int seconds) throws InterruptedException {
        if (!p.waitFor(seconds, java.util.concurrent.TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("qemu-io did not finish within " + seconds + " s");
        }
        return p.exitValue();
    }

    /**
     * A QEMU client (driver=rbd) writing to an image vhostd serves asks vhostd for the lock, is
     * refused, and its writes fail with EROFS; vhostd keeps the image and its data.
     */
    @Test
    void aQemuClientsWritesToAnImageVhostdServesFailAndChangeNothing() throws Exception {
        String image = imageOf(backend).substring("rbd/".length());
        assertEquals(0, run(data(IoOp.Type.WRITE, 0, patterned(4096, 41))));
        Path out = Files.createTempFile("qemu-io", ".log");
        try {
            int exit = awaitExit(qemuIo(image, out, "write -P 0xab 0 4k"), 120);
            String log = Files.readString(out);
            assertTrue(exit != 0 && log.contains("Read-only file system"), "exit " + exit + ":\n" + log);
        } finally {
            Files.deleteIfExists(out);
        }
        assertContent(read(0, 4096), 0, (off) -> pattern(41, off));
        assertEquals(0, run(data(IoOp.Type.WRITE, 4096, patterned(4096, 42))), "vhostd still writes");
    }

    /**
     * The other way round: a QEMU client holds the lock cooperatively (it would hand it over on
     * request). vhostd does not take it from a live client, so the QEMU's writes keep working.
     */
    @Test
    void vhostdDoesNotTakeTheImageFromALiveQemuClient() throws Exception {
        String image = newImage(16L << 20);
        Path out = Files.createTempFile("qemu-io", ".log");
        try {
            // The first write takes the lock; the second comes after vhostd's attempt.
            Process qemu = qemuIo(image, out, "write -P 0x11 0 4k", "sleep 12000", "write -P 0x22 4k 4k", "flush");
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (!ceph.rbd("lock", "ls", "rbd/" + image).contains("auto")) {
                assertTrue(qemu.isAlive(), Files.readString(out));
                assertTrue(System.nanoTime() < deadline, "qemu-io did not take the lock:\n" + Files.readString(out));
                Thread.sleep(100);
            }
            BackendOpenException e = assertThrows(BackendOpenException.class,
                    () -> Backends.open(uri(image, "lock_timeout=2"), BackendOptions.defaults()));
            assertTrue(e.getMessage().contains("holds the image's exclusive lock and is alive"), e.getMessage());
            int exit = awaitExit(qemu, 120);
            String log = Files.readString(out);
            assertTrue(exit == 0 && !log.contains("failed"), "the QEMU client lost its writes: exit " + exit + ":\n"
                    + log);
        } finally {
            Files.deleteIfExists(out);
        }
        // Once the QEMU client is gone, vhostd opens the image and sees both of its writes.
        try (BlockBackend b = Backends.open(uri(image, ""), BackendOptions.defaults());
             BackendQueue q = b.openQueue()) {
            MemorySegment buf = arena.allocate(8192, 4096);
            assertEquals(0, queueRun(q, data(IoOp.Type.READ, 0, buf)));
            for (long i = 0; i < 8192; i++) {
                assertEquals(i < 4096 ? (byte) 0x11 : (byte) 0x22, buf.get(java.lang.foreign.ValueLayout.JAVA_BYTE, i),
                        "byte " + i);
            }
        }
    }

    @Test
    void operatorErrorsSayWhatIsWrong() throws Exception {
        BackendOpenException noImage = assertThrows(BackendOpenException.class,
                () -> Backends.open(uri("nosuch", ""), BackendOptions.defaults()));
        assertTrue(noImage.getMessage().contains("image 'nosuch' does not exist in pool 'rbd'"), noImage.getMessage());

        BackendOpenException noPool = assertThrows(BackendOpenException.class,
                () -> Backends.open("rbd:nopool/x,conf=" + ceph.conf(), BackendOptions.defaults()));
        assertTrue(noPool.getMessage().contains("pool 'nopool' does not exist"), noPool.getMessage());

        BackendOpenException noConf = assertThrows(BackendOpenException.class,
                () -> Backends.open("rbd:rbd/x,conf=" + dir.resolve("missing.conf"), BackendOptions.defaults()));
        assertTrue(noConf.getMessage().contains("missing.conf is missing or unreadable"), noConf.getMessage());

        assertThrows(BackendOpenException.class, () -> Backends.open("rbd:justapool", BackendOptions.defaults()));
        assertThrows(BackendOpenException.class, () -> Backends.open("rbd:rbd/x,bogus=1", BackendOptions.defaults()));
        assertThrows(BackendOpenException.class,
                () -> Backends.open("rbd:rbd/x,conf=" + ceph.conf(), BackendOptions.defaults().withSize(1 << 20)));
    }

    /**
     * cephx refusals, each one line that says permission denied and which caps or key to fix, and
     * none waits for a timeout: the cluster answers at once.
     */
    @Test
    void permissionDeniedSaysWhichCapsOrKeyToFix() throws Exception {
        String image = newImage(CAPACITY);
        String who = ceph.newImageName("user");
        Path otherPool = ceph.newUser(who + "-other", "mon", "profile rbd", "osd", "profile rbd pool=elsewhere");
        Path nothing = ceph.newUser(who + "-nothing");
        Path readOnly = ceph.newUser(who + "-ro", "mon", "profile rbd", "osd", "profile rbd-read-only pool=rbd");
        Path good = ceph.newUser(who + "-good", "mon", "profile rbd", "osd", "profile rbd pool=rbd");

        String caps = refused(uri(image, "id=" + who + "-other,keyring=" + otherPool), BackendOptions.defaults());
        assertTrue(caps.contains("permission denied: client." + who + "-other may not write this image; give it osd"
                + " 'profile rbd pool=rbd'"), caps);

        String none = refused(uri(image, "id=" + who + "-nothing,keyring=" + nothing), BackendOptions.defaults());
        assertTrue(none.contains("permission denied: the monitors refused client." + who + "-nothing"), none);
        assertTrue(none.contains("'ceph auth get client." + who + "-nothing'"), none);

        // A key the cluster does not know for that user.
        Path wrongKey = dir.resolve("wrong.keyring");
        Files.writeString(wrongKey, Files.readString(good).replaceAll("key = \\S+",
                "key = AQBqpbZkAAAAABAAbm90YXJlYWxrZXlhdGFsbGhlcmU="));
        String wrong = refused(uri(image, "id=" + who + "-good,keyring=" + wrongKey), BackendOptions.defaults());
        assertTrue(wrong.contains("permission denied: the monitors refused client." + who + "-good (its key in "
                + wrongKey + " is not the cluster's"), wrong);

        // Another user's keyring.
        String mixed = refused(uri(image, "id=" + who + "-good,keyring=" + nothing), BackendOptions.defaults());
        assertTrue(mixed.contains("keyring " + nothing + " holds no key for client." + who + "-good"), mixed);

        // Read-only caps: refused for writing, with the way out; a read-only export works.
        String ro = refused(uri(image, "id=" + who + "-ro,keyring=" + readOnly), BackendOptions.defaults());
        assertTrue(ro.contains("may not write this image") && ro.contains("--read-only"), ro);
        try (BlockBackend b = Backends.open(uri(image, "id=" + who + "-ro,keyring=" + readOnly),
                BackendOptions.defaults().withReadOnly(true));
             BackendQueue q = b.openQueue()) {
            assertEquals(0, queueRun(q, data(IoOp.Type.READ, 0, arena.allocate(4096, 4096))));
        }

        String missing = refused(uri(image, "id=" + who + "-good,keyring=" + dir.resolve("none.keyring")),
                BackendOptions.defaults());
        assertTrue(missing.contains("keyring " + dir.resolve("none.keyring") + " is missing or unreadable"), missing);
        String directory = refused(uri(image, "id=" + who + "-good,keyring=" + dir), BackendOptions.defaults());
        assertTrue(directory.contains("keyring " + dir + " is missing or unreadable"), directory);

        // The right key and caps work, through the same options.
        try (BlockBackend b = Backends.open(uri(image, "id=" + who + "-good,keyring=" + good), BackendOptions.defaults());
             BackendQueue q = b.openQueue()) {
            assertEquals(0, queueRun(q, data(IoOp.Type.WRITE, 0, patterned(4096, 5))));
        }
    }

    /** Opens {@code uri}, which must fail at once (well inside the 30 s timeouts) with one line; returns it. */
    private static String refused(String uri, BackendOptions options) {
        long start = System.nanoTime();
        BackendOpenException e = assertThrows(BackendOpenException.class, () -> Backends.open(uri, options).close());
        long ms = (System.nanoTime() - start) / 1_000_000;
        String m = e.getMessage();
        assertFalse(m.contains("\n"), "one line: " + m);
        assertTrue(m.startsWith("rbd:rbd/"), m);
        assertTrue(ms < 15_000, "refused after " + ms + " ms: " + m);
        return m;
    }

    @Test
    void anUnreachableClusterFailsWithinTheConnectTimeout() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        // Nothing listens on that port any more: a monitor that is down.
        Path conf = dir.resolve("down.conf");
        Files.writeString(conf, "[global]\nmon host = v2:127.0.0.1:" + port + "\nauth client required = none\n"
                + "log file = " + dir.resolve("client.log") + "\n");
        long start = System.nanoTime();
        BackendOpenException e = assertThrows(BackendOpenException.class,
                () -> Backends.open("rbd:rbd/x,conf=" + conf + ",connect_timeout=3", BackendOptions.defaults()));
        long seconds = (System.nanoTime() - start) / 1_000_000_000L;
        assertTrue(e.getMessage().contains("the Ceph cluster is unreachable"), e.getMessage());
        assertTrue(seconds < 20, "took " + seconds + " s with connect_timeout=3");
    }

    /**
     * With io_timeout=0 a request waits while the OSD is down and succeeds once it is back. And
     * submitting never waits, even with more requests held than librados' in-flight throttle
     * (objecter_inflight_ops, 1024 by default) would let through: librbd dispatches on the caller's
     * thread (rbd_non_blocking_aio=false), so a throttle there would stop the poller.
     */
    @Test
    @Order(Integer.MAX_VALUE - 1)
    void withoutAnIoTimeoutRequestsWaitForTheClusterToReturnAndSubmittingNeverBlocks() throws Exception {
        String image = newImage(CAPACITY);
        int held = 1100;
        try (BlockBackend b = Backends.open(uri(image, "io_timeout=0"), BackendOptions.defaults());
             BackendQueue q = b.openQueue()) {
            // Both objects the held writes go to exist (object map), so they go straight to the OSD.
            assertEquals(0, queueRun(q, data(IoOp.Type.WRITE, 0, patterned(4096, 21))));
            assertEquals(0, queueRun(q, data(IoOp.Type.WRITE, 4L << 20, patterned(4096, 21))));
            ceph.stopOsd();
            boolean osdUp = false;
            try {
                MemorySegment buf = arena.allocate(4096, 4096);
                IoOp read = data(IoOp.Type.READ, 0, buf);
                MemorySegment zeros = arena.allocate(4096, 4096);
                List<IoOp> writes = new ArrayList<>();
                for (int i = 0; i < held; i++) {
                    writes.add(data(IoOp.Type.WRITE, (long) (i + 1) * 4096, zeros));
                }
                // On another thread, so that a submit stuck in librados fails the test instead of hanging it.
                java.util.concurrent.FutureTask<Integer> submitAll = new java.util.concurrent.FutureTask<>(() -> {
                    int accepted = q.submit(read) ? 0 : 1;
                    for (IoOp w : writes) {
                        accepted += q.submit(w) ? 0 : 1;
                    }
                    q.flushSubmissions();
                    return accepted;
                });
                Thread submitter = Thread.ofPlatform().daemon().start(submitAll);
                int accepted;
                try {
                    accepted = submitAll.get(30, java.util.concurrent.TimeUnit.SECONDS);
                } catch (java.util.concurrent.TimeoutException e) {
                    throw new AssertionError("submitting " + (held + 1) + " requests with the OSD down blocked for 30 s"
                            + " (in librados' in-flight throttle?): the poller would stop");
                }
                submitter.join();
                assertEquals(held + 1, accepted, "every request went to librbd");
                Thread.sleep(3000);
                assertEquals(0, q.reap(op -> { }), "a held request must not fail while the cluster is away");
                assertEquals(held + 1, q.inFlight());
                ceph.startOsd();
                osdUp = true;
                long deadline = System.nanoTime() + 120_000_000_000L;
                List<IoOp> done = new ArrayList<>();
                while (done.size() < held + 1 && System.nanoTime() < deadline) {
                    q.reap(done::add);
                    Thread.sleep(50);
                }
                assertEquals(held + 1, done.size(), "the held requests did not finish within 120 s of the OSD's restart");
                assertEquals(0, read.result());
                assertContent(buf, 0, off -> pattern(21, off));
                for (IoOp w : writes) {
                    assertEquals(0, w.result());
                }
            } finally {
                if (!osdUp) {
                    ceph.startOsd();
                }
            }
        }
    }

    /** Last: it stops the cluster's OSD. */
    @Test
    @Order(Integer.MAX_VALUE)
    void requestsFailWithinTheIoTimeoutWhenTheClusterGoesAway() throws Exception {
        // Closed now, while the cluster still answers: closing releases the lock, a write.
        queue.close();
        backend.close();
        queue = null;
        backend = null;
        String image = newImage(CAPACITY);
        try (BlockBackend b = Backends.open(uri(image, "io_timeout=3"), BackendOptions.defaults());
             BackendQueue q = b.openQueue()) {
            assertEquals(0, queueRun(q, data(IoOp.Type.WRITE, 0, patterned(4096, 9))));
            ceph.stopOsd();
            long start = System.nanoTime();
            List<IoOp> ops = new ArrayList<>();
            ops.add(data(IoOp.Type.READ, 0, arena.allocate(4096, 4096)));
            ops.add(data(IoOp.Type.WRITE, 1 << 20, patterned(4096, 10)));
            for (IoOp op : ops) {
                assertFalse(q.submit(op), "a request to a cluster without OSDs cannot finish at once");
            }
            List<IoOp> done = new ArrayList<>();
            BackendQueue saved = queue;
            queue = q;
            try {
                awaitCompletions(done, 2);
            } finally {
                queue = saved;
            }
            long seconds = (System.nanoTime() - start) / 1_000_000_000L;
            for (IoOp op : done) {
                assertTrue(op.result() < 0, op.type() + " must fail, got " + op.result());
            }
            assertTrue(seconds < 25, "failed after " + seconds + " s with io_timeout=3 (default 30 s)");
        }
    }

    /** Submits on {@code q} and waits for it, like {@link #run} does on the contract's queue. */
    private int queueRun(BackendQueue q, IoOp op) {
        if (q.submit(op)) {
            return op.result();
        }
        List<IoOp> done = new ArrayList<>();
        BackendQueue saved = queue;
        queue = q;
        try {
            awaitCompletions(done, 1);
        } finally {
            queue = saved;
        }
        return op.result();
    }
}
