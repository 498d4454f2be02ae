package dev.vhostd.backend;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Stream;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A write that blocks in the kernel must not hold up the requests behind it on the same queue.
 * The block is real and lasts as long as the test wants: the backend's file sits on a small ext4
 * image on a loop device, frozen with fsfreeze (FIFREEZE), under which buffered writes wait in
 * the kernel until the thaw while reads of cached pages go on. One thread plays the poller that
 * owns the queue; aio=auto, the default.
 *
 * <p>Needs root (losetup, mount, fsfreeze), as the container and QEMU tests do; about 2 s.
 */
class BlockedWriteTest {
    private static final long DISK = 1 << 20;
    private static Path dir;
    private static Path mountPoint;
    private static String loopDevice;
    private static boolean mounted;

    @BeforeAll
    static void mountScratchExt4() throws Exception {
        assumeTrue(IoUringSupport.available(), () -> "io_uring unavailable: " + IoUringSupport.unavailableReason());
        assumeTrue("root".equals(System.getProperty("user.name")), "needs root to make and freeze a loop-mounted ext4");
        dir = Files.createTempDirectory(Path.of("/var/tmp"), "vhostd-blocked-write");
        Path image = dir.resolve("ext4.img");
        mountPoint = Files.createDirectory(dir.resolve("mnt"));
        sh("truncate", "-s", "32M", image.toString());
        sh("mkfs.ext4", "-q", "-F", image.toString());
        loopDevice = sh("losetup", "-f", "--show", image.toString()).strip();
        sh("mount", "-t", "ext4", loopDevice, mountPoint.toString());
        mounted = true;
    }

    @AfterAll
    static void unmount() throws Exception {
        if (mounted) {
            run("fsfreeze", "-u", mountPoint.toString());
            sh("umount", mountPoint.toString());
        }
        if (loopDevice != null) {
            sh("losetup", "-d", loopDevice);
        }
        if (dir != null) {
            try (Stream<Path> s = Files.walk(dir)) {
                for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    @Test
    void aWriteBlockedOnAFrozenFileSystemDelaysNeitherAReadBehindItNorLosesItself() throws Exception {
        ExecutorService poller = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "test-poller");
            t.setDaemon(true);
            return t;
        });
        boolean frozen = false;
        try (Arena arena = Arena.ofShared();
             BlockBackend backend = Backends.open("file:" + mountPoint.resolve("disk.img"),
                     BackendOptions.defaults().withSize(DISK))) {
            // The default stall limit, but a lone-write back-off of 10 s instead of 100 ms (at most
            // 1 s after doubling): the fsfreeze between the stalled write and the next one syncs the
            // file system and must not outlast it on a busy machine.
            BackendQueue queue = poller.submit(() -> ((FileBackend) backend).openQueue(
                    UringFileQueue.DEFAULT_STALL_NANOS, 10_000_000_000L)).get(10, TimeUnit.SECONDS);
            try {
                // Warm up: the queue learns where writes and reads go; blocks 0 and 1 are cached.
                assertEquals(0, poller.submit(() -> runOne(queue, write(arena, 0, 1))).get(10, TimeUnit.SECONDS));
                assertEquals(0, poller.submit(() -> runOne(queue, write(arena, 4096, 2))).get(10, TimeUnit.SECONDS));

                sh("fsfreeze", "-f", mountPoint.toString());
                frozen = true;
                // One poller batch: a read, the write that will block, a read behind it.
                IoOp blocked = write(arena, 0, 3);
                MemorySegment buf0 = arena.allocate(4096, 4096);
                IoOp before = new IoOp(1).setData(IoOp.Type.READ, 4096);
                before.addSegment(buf0);
                MemorySegment buf = arena.allocate(4096, 4096);
                IoOp read = new IoOp(1).setData(IoOp.Type.READ, 4096);
                read.addSegment(buf);
                Future<Boolean> readFirst = poller.submit(() -> {
                    List<IoOp> done = new ArrayList<>();
                    for (IoOp op : new IoOp[] {before, blocked, read}) {
                        if (queue.submit(op)) {
                            done.add(op);
                        }
                    }
                    queue.flushSubmissions();
                    long deadline = System.nanoTime() + 10_000_000_000L;
                    while (!(done.contains(read) && done.contains(before)) && System.nanoTime() < deadline) {
                        queue.reap(done::add);
                        Thread.sleep(1);
                    }
                    // The write must still be in the kernel: otherwise nothing was blocked.
                    return done.contains(read) && done.contains(before) && !done.contains(blocked)
                            && queue.inFlight() == 1;
                });
                try {
                    assertTrue(readFirst.get(15, TimeUnit.SECONDS),
                            "the read did not complete while the write waited on the frozen file system");
                } catch (TimeoutException e) {
                    fail("the queue's owner was stuck in the blocked write for 15 s: the read behind it waited");
                }
                assertEquals(0, read.result());
                assertEquals(0, before.result());
                assertContent(buf, 2);

                // Draining (a detach, a stop) waits for the blocked write instead of dropping it.
                List<IoOp> drained = new ArrayList<>();
                Future<?> drain = poller.submit(() -> queue.drain(drained::add));
                Thread.sleep(200);
                assertFalse(drain.isDone(), "drain returned while a write was still blocked");
                sh("fsfreeze", "-u", mountPoint.toString());
                frozen = false;
                drain.get(15, TimeUnit.SECONDS);
                assertEquals(List.of(blocked), drained);
                assertEquals(0, blocked.result());

                MemorySegment check = arena.allocate(4096, 4096);
                IoOp reread = new IoOp(1).setData(IoOp.Type.READ, 0);
                reread.addSegment(check);
                assertEquals(0, poller.submit(() -> runOne(queue, reread)).get(10, TimeUnit.SECONDS));
                assertContent(check, 3);

                // A lone write runs on the owner's thread; one that blocked (here 300 ms, until a
                // thaw) sends the next ones, lone or not, to the worker: the owner waits once.
                sh("fsfreeze", "-f", mountPoint.toString());
                frozen = true;
                Thread thaw = Thread.ofPlatform().start(() -> {
                    try {
                        Thread.sleep(300);
                        run("fsfreeze", "-u", mountPoint.toString());
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                });
                assertEquals(0, poller.submit(() -> runOne(queue, write(arena, 8192, 4))).get(15, TimeUnit.SECONDS));
                thaw.join();
                sh("fsfreeze", "-f", mountPoint.toString());
                IoOp lone = write(arena, 8192, 5);
                assertFalse(poller.submit(() -> queue.submit(lone)).get(15, TimeUnit.SECONDS),
                        "after a stalled lone write, the next one must go to the worker, not run (and block) inline");
                MemorySegment buf2 = arena.allocate(4096, 4096);
                IoOp after = new IoOp(1).setData(IoOp.Type.READ, 4096);
                after.addSegment(buf2);
                assertEquals(0, poller.submit(() -> runOne(queue, after)).get(15, TimeUnit.SECONDS));
                sh("fsfreeze", "-u", mountPoint.toString());
                frozen = false;
                List<IoOp> rest = new ArrayList<>();
                poller.submit(() -> queue.drain(rest::add)).get(15, TimeUnit.SECONDS);
                assertEquals(List.of(lone), rest);
                assertEquals(0, lone.result());
            } finally {
                if (frozen) {
                    run("fsfreeze", "-u", mountPoint.toString());
                }
                poller.submit(queue::close).get(30, TimeUnit.SECONDS);
            }
        } finally {
            poller.shutdownNow();
        }
    }

    private static IoOp write(Arena arena, long offset, int seed) {
        MemorySegment buf = arena.allocate(4096, 4096);
        buf.fill((byte) seed);
        IoOp op = new IoOp(1).setData(IoOp.Type.WRITE, offset);
        op.addSegment(buf);
        return op;
    }

    private static void assertContent(MemorySegment buf, int seed) {
        for (long i = 0; i < buf.byteSize(); i++) {
            if (buf.get(JAVA_BYTE, i) != (byte) seed) {
                fail("byte " + i + " is " + buf.get(JAVA_BYTE, i) + ", expected " + seed);
            }
        }
    }

    /** On the owner's thread: submits one op and waits for its completion; returns its result. */
    /** Submits one op as a batch of its own (the owner ends every batch with flushSubmissions) and waits for it. */
    private static int runOne(BackendQueue queue, IoOp op) throws InterruptedException {
        boolean completed = queue.submit(op);
        queue.flushSubmissions();
        if (!completed) {
            List<IoOp> done = new ArrayList<>();
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (done.isEmpty()) {
                if (System.nanoTime() > deadline) {
                    fail("an op did not complete within 10 s");
                }
                queue.reap(done::add);
                Thread.sleep(1);
            }
        }
        return op.result();
    }

    private static String sh(String... cmd) throws IOException, InterruptedException {
        Result r = run(cmd);
        if (r.status != 0) {
            throw new IOException(String.join(" ", cmd) + " failed (" + r.status + "): " + r.output);
        }
        return r.output;
    }

    private record Result(int status, String output) {}

    private static Result run(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException(String.join(" ", cmd) + " did not finish within 60 s");
        }
        return new Result(p.exitValue(), new String(p.getInputStream().readAllBytes()));
    }
}
