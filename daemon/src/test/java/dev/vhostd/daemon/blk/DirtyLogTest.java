package dev.vhostd.daemon.blk;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.vhostd.backend.BackendOptions;
import dev.vhostd.backend.Backends;
import dev.vhostd.backend.BlockBackend;
import dev.vhostd.daemon.disk.DeviceTelemetry;
import dev.vhostd.daemon.metrics.DeviceMetrics;
import dev.vhostd.daemon.metrics.VhostdMetrics;
import dev.vhostd.protocol.connection.VhostUserServer;
import dev.vhostd.protocol.device.VirtioFeatures;
import dev.vhostd.protocol.engine.ProtocolFeatures;
import dev.vhostd.protocol.engine.VhostUserEngine;
import dev.vhostd.protocol.poll.PollerGroup;
import dev.vhostd.protocol.testing.FakeDriver;
import dev.vhostd.protocol.testing.FakeDriverQueue;
import dev.vhostd.protocol.testing.FakeFrontend;
import dev.vhostd.sys.EventFd;
import dev.vhostd.sys.Libc;
import dev.vhostd.sys.MemFd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Dirty-page logging for live migration, end to end in process: a fake front-end (real socket, real
 * fd passing) sets up a dirty log in a memfd, a fake driver puts virtio-blk requests on a ring in
 * two memfd regions, and the real engine, poller and virtio-blk device serve them. Each test checks
 * the exact set of bits in the log against the guest pages vhostd wrote.
 */
class DirtyLogTest {
    private static final int QUEUE_SIZE = 64;
    /** Two adjacent regions of 64 KiB each: guest pages 0..31. */
    private static final long REGION = 64 * 1024;
    private static final long PAGE = 4096;
    private static final long FEATURES = VirtioFeatures.bit(VirtioFeatures.VERSION_1)
            | VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX)
            | VirtioFeatures.bit(VirtioFeatures.VHOST_USER_PROTOCOL_FEATURES);
    private static final long LOG_ALL = VirtioFeatures.bit(VirtioFeatures.LOG_ALL);
    private static final long PROTOCOL = (1L << ProtocolFeatures.REPLY_ACK) | (1L << ProtocolFeatures.LOG_SHMFD)
            | (1L << ProtocolFeatures.MQ);
    private static final int F_LOG = 1;

    @TempDir
    Path dir;
    private final List<AutoCloseable> cleanup = new ArrayList<>();
    private final List<Integer> fds = new ArrayList<>();
    private DeviceMetrics metrics;
    private VhostUserServer server;
    private Thread serving;
    private PollerGroup pollers;
    private FakeDriver driver;
    private FakeDriverQueue queue;
    private int kick;
    private int call;
    private FakeFrontend fe;

    @AfterEach
    void tearDown() throws Exception {
        if (fe != null) {
            fe.close();
        }
        if (server != null) {
            server.close();
            serving.join(5000);
        }
        if (pollers != null) {
            pollers.close();
        }
        for (int i = cleanup.size() - 1; i >= 0; i--) {
            cleanup.get(i).close();
        }
        for (int fd : fds) {
            Libc.close(fd);
        }
    }

    /** A dirty log in a memfd the test owns and reads. */
    private final class Log {
        final String name;
        final int fd;
        final MemorySegment bits;

        Log(String name, long bytes) {
            this.name = name;
            this.fd = MemFd.create(name, bytes);
            fds.add(fd);
            Arena arena = Arena.ofShared();
            cleanup.add(arena::close);
            this.bits = Libc.mmap(arena, bytes, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, fd, 0);
        }

        /** The pages whose bits are set, as the front-end would collect them. */
        TreeSet<Long> dirty() {
            TreeSet<Long> out = new TreeSet<>();
            for (long i = 0; i < bits.byteSize(); i++) {
                int b = Byte.toUnsignedInt(bits.get(ValueLayout.JAVA_BYTE, i));
                for (int k = 0; k < 8; k++) {
                    if ((b & (1 << k)) != 0) {
                        out.add(i * 8 + k);
                    }
                }
            }
            return out;
        }

        /** Takes and clears the bits, as QEMU's sync does. */
        TreeSet<Long> take() {
            TreeSet<Long> d = dirty();
            bits.fill((byte) 0);
            return d;
        }
    }

    private void start(String backendUri) throws IOException {
        VhostdMetrics all = VhostdMetrics.disabled();
        metrics = all.device("dirty");
        BlockBackend backend = Backends.open(backendUri, BackendOptions.defaults());
        cleanup.add(backend::close);
        VirtioBlkDevice device = new VirtioBlkDevice(backend, new BlkOptions(1, 256, "dirty-serial", false), metrics);
        DeviceTelemetry telemetry = new DeviceTelemetry(metrics);
        pollers = new PollerGroup("dirty", 1, 20);
        Path socket = dir.resolve("blk.sock");
        server = VhostUserServer.bind(socket);
        serving = Thread.ofPlatform().name("serve").start(() -> server.serve(
                () -> new VhostUserEngine("dirty", device, pollers, telemetry, telemetry)));
        driver = new FakeDriver(REGION, REGION);
        cleanup.add(driver);
        queue = driver.addQueue(QUEUE_SIZE);
        kick = EventFd.create();
        call = EventFd.create();
        fds.add(kick);
        fds.add(call);
        fe = FakeFrontend.connect(socket);
        long offered = fe.getFeatures();
        assertTrue((offered & LOG_ALL) != 0, "VHOST_F_LOG_ALL offered");
        fe.setFeatures(FEATURES, false);
        long proto = fe.getProtocolFeatures();
        assertTrue((proto & (1L << ProtocolFeatures.LOG_SHMFD)) != 0, "LOG_SHMFD offered");
        fe.setProtocolFeatures(PROTOCOL, false);
        ack(fe.setOwner(true).getAsLong());
        int[] memFds = new int[driver.regionCount()];
        for (int i = 0; i < memFds.length; i++) {
            memFds[i] = driver.fd(i);
        }
        ack(fe.setMemTable(driver.memoryRegions(), memFds, true).getAsLong());
    }

    private static void ack(long status) {
        assertEquals(0, status, "request acknowledged");
    }

    /** Starts the ring; {@code logAddr} is its log_guest_addr with VHOST_VRING_F_LOG, or -1 for no flag. */
    private void startRing(long logAddr) throws IOException {
        ack(fe.setVringNum(0, QUEUE_SIZE, true).getAsLong());
        setVringAddr(logAddr);
        ack(fe.setVringBase(0, 0, true).getAsLong());
        ack(fe.setVringCall(0, call, true).getAsLong());
        ack(fe.setVringKick(0, kick, true).getAsLong());
        ack(fe.setVringEnable(0, true, true).getAsLong());
    }

    private long setVringAddr(long logAddr) throws IOException {
        return fe.setVringAddr(0, logAddr < 0 ? 0 : F_LOG, queue.descUserAddr(), queue.usedUserAddr(),
                queue.availUserAddr(), Math.max(0, logAddr), true).getAsLong();
    }

    /** A new log large enough for the guest (32 pages need 4 bytes; QEMU sends whole 8-byte chunks). */
    private Log log(String name) {
        return new Log(name, 4096);
    }

    private void setLog(Log log) throws IOException {
        assertEquals(0, fe.setLogBase(4096, 0, log.fd), "SET_LOG_BASE accepted");
    }

    private void logAll(boolean on) throws IOException {
        ack(fe.setFeatures(FEATURES | (on ? LOG_ALL : 0), true).getAsLong());
    }

    /** One virtio-blk request: header at {@code header}, data buffers, status byte; returns the head. */
    private int request(int type, long sector, List<FakeDriver.Buffer> data, FakeDriver.Buffer status,
            FakeDriver.Buffer header) {
        byte[] h = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putInt(type).putInt(0).putLong(sector).array();
        driver.write(header.gpa(), h);
        List<FakeDriver.Buffer> writable = new ArrayList<>(data);
        writable.add(status);
        return queue.addChain(List.of(header), writable, false);
    }

    private void kick() {
        new EventFd().signal(kick);
    }

    private FakeDriverQueue.Used awaitUsed() {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < deadline) {
            FakeDriverQueue.Used u = queue.pollUsed();
            if (u != null) {
                return u;
            }
            Thread.onSpinWait();
        }
        throw new AssertionError("no used entry within 10 s");
    }

    private static TreeSet<Long> pagesOf(long gpa, long length) {
        TreeSet<Long> out = new TreeSet<>();
        for (long p = gpa / PAGE; p <= (gpa + length - 1) / PAGE; p++) {
            out.add(p);
        }
        return out;
    }

    /** Pages of the used ring elements {@code [from, to)} plus its idx, logged at {@code logAddr}. */
    private static TreeSet<Long> usedPages(long logAddr, int from, int to) {
        TreeSet<Long> out = new TreeSet<>(pagesOf(logAddr + 2, 2));
        for (int i = from; i < to; i++) {
            out.addAll(pagesOf(logAddr + 4 + 8L * (i % QUEUE_SIZE), 8));
        }
        return out;
    }

    /**
     * A read whose data crosses a page boundary and the boundary between the two regions, its status
     * byte on another page: exactly those pages are marked, plus the used ring at log_guest_addr
     * (not at the ring's own address) when the ring has VHOST_VRING_F_LOG. The header page, which
     * vhostd only reads, is not.
     */
    @Test
    void readMarksExactlyTheWrittenPagesAcrossPageAndRegionBoundariesAndTheUsedRingAtItsLogAddress()
            throws IOException {
        start("memory:1M");
        Log log = log("dirty-log");
        setLog(log);
        logAll(true);
        long logAddr = 20 * PAGE + 0x100; // a page no guest structure uses: proves log_guest_addr is honoured
        startRing(logAddr);
        FakeDriver.Buffer header = driver.buffer(16);
        FakeDriver.Buffer data = driver.bufferAcrossBoundary(0, 2048, 8192);
        FakeDriver.Buffer status = FakeDriver.bufferAt(25 * PAGE + 7, 1);
        driver.write(data.gpa(), new byte[8192]);
        driver.write(status.gpa(), new byte[] {(byte) 0xff});
        request(VirtioBlk.T_IN, 8, List.of(data), status, header);
        kick();
        FakeDriverQueue.Used u = awaitUsed();
        assertEquals(8193, u.len());
        assertEquals(0, driver.read(status.gpa(), 1)[0], "status OK");

        TreeSet<Long> expected = new TreeSet<>();
        expected.addAll(pagesOf(data.gpa(), data.length())); // 3 pages: 15, 16 (region 1) and 17
        expected.addAll(pagesOf(status.gpa(), 1));
        expected.addAll(usedPages(logAddr, 0, 1));
        assertEquals(List.of(15L, 16L, 17L), List.copyOf(pagesOf(data.gpa(), data.length())));
        // avail_event (written when the poller re-arms notifications) shares the used ring's page.
        TreeSet<Long> dirty = log.take();
        assertEquals(expected, dirty);
        assertFalse(dirty.contains(header.gpa() / PAGE));
        assertTrue(metrics.dirtyPagesMarked() >= expected.size());
        assertTrue(metrics.isDirtyLogging());
        assertEquals(1, metrics.dirtyLogChanges());
    }

    /** Without VHOST_VRING_F_LOG the used ring is not logged; GET_ID's buffer is. */
    @Test
    void usedRingIsNotLoggedWithoutTheRingFlagAndGetIdIsLogged() throws IOException {
        start("memory:1M");
        Log log = log("dirty-log");
        setLog(log);
        logAll(true);
        startRing(-1);
        FakeDriver.Buffer header = driver.buffer(16);
        FakeDriver.Buffer id = FakeDriver.bufferAt(REGION + 3 * PAGE - 10, 20); // crosses a page boundary
        FakeDriver.Buffer status = FakeDriver.bufferAt(28 * PAGE, 1);
        request(VirtioBlk.T_GET_ID, 0, List.of(id), status, header);
        kick();
        awaitUsed();
        TreeSet<Long> expected = new TreeSet<>(pagesOf(id.gpa(), 20));
        expected.addAll(pagesOf(status.gpa(), 1));
        assertEquals(expected, log.take());
        assertEquals("dirty-serial", new String(driver.read(id.gpa(), 12), java.nio.charset.StandardCharsets.US_ASCII));
    }

    /** Writes to the disk only read guest memory: nothing but the status byte and used ring is logged. */
    @Test
    void writeRequestsLogOnlyTheStatusByte() throws IOException {
        start("memory:1M");
        Log log = log("dirty-log");
        setLog(log);
        logAll(true);
        startRing(-1);
        FakeDriver.Buffer header = driver.buffer(16);
        FakeDriver.Buffer data = FakeDriver.bufferAt(10 * PAGE, 4096);
        FakeDriver.Buffer status = FakeDriver.bufferAt(27 * PAGE + 100, 1);
        byte[] h = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putInt(VirtioBlk.T_OUT).putInt(0).putLong(0)
                .array();
        driver.write(header.gpa(), h);
        queue.addChain(List.of(header, data), List.of(status), false);
        kick();
        awaitUsed();
        assertEquals(pagesOf(status.gpa(), 1), log.take());
    }

    /** LOG_ALL switched on and off by SET_FEATURES while the ring runs: marks exactly while it is on. */
    @Test
    void logAllToggledWhileTheRingRuns() throws IOException {
        start("memory:1M");
        Log log = log("dirty-log");
        setLog(log);
        startRing(-1);
        FakeDriver.Buffer header = driver.buffer(16);
        long[] dataPages = {9, 10, 11, 12, 13, 14};
        for (int round = 0; round < dataPages.length; round++) {
            boolean on = round % 2 == 1;
            logAll(on);
            assertEquals(on, metrics.isDirtyLogging());
            FakeDriver.Buffer data = FakeDriver.bufferAt(dataPages[round] * PAGE, 512);
            FakeDriver.Buffer status = FakeDriver.bufferAt(dataPages[round] * PAGE + 1024, 1);
            request(VirtioBlk.T_IN, 0, List.of(data), status, header);
            kick();
            awaitUsed();
            TreeSet<Long> expected = on ? new TreeSet<>(List.of(dataPages[round])) : new TreeSet<>();
            assertEquals(expected, log.take(), "round " + round + " with LOG_ALL " + (on ? "on" : "off"));
        }
    }

    /**
     * The log replaced again and again while a thread keeps reads flowing: no mark is lost across a
     * swap (every page read is in some log), reads completed after the last swap are in the last
     * log, and each replaced log is unmapped by vhostd (its fd released).
     */
    @Test
    void logBaseReplacedWhileTheRingRuns() throws Exception {
        start("memory:1M");
        List<Log> logs = new ArrayList<>();
        logs.add(log("dirty-log-0"));
        setLog(logs.getFirst());
        logAll(true);
        startRing(-1);
        FakeDriver.Buffer header = driver.buffer(16);
        AtomicBoolean stop = new AtomicBoolean();
        AtomicInteger done = new AtomicInteger();
        List<Long> pagesRead = java.util.Collections.synchronizedList(new ArrayList<>());
        Thread io = Thread.ofPlatform().start(() -> {
            int i = 0;
            while (!stop.get()) {
                long page = 4 + (i % 24);
                FakeDriver.Buffer data = FakeDriver.bufferAt(page * PAGE + 512, 512);
                FakeDriver.Buffer status = FakeDriver.bufferAt(page * PAGE + 2048, 1);
                request(VirtioBlk.T_IN, i % 100, List.of(data), status, header);
                kick();
                awaitUsed();
                pagesRead.add(page);
                done.incrementAndGet();
                i++;
            }
        });
        try {
            for (int swap = 1; swap <= 8; swap++) {
                int before = done.get();
                while (done.get() < before + 20) {
                    Thread.sleep(1);
                }
                Log next = log("dirty-log-" + swap);
                logs.add(next);
                setLog(next);
            }
            int atLastSwap = pagesRead.size();
            int target = done.get() + 30;
            while (done.get() < target) {
                Thread.sleep(1);
            }
            stop.set(true);
            io.join(10_000);
            TreeSet<Long> union = new TreeSet<>();
            for (Log l : logs) {
                union.addAll(l.dirty());
            }
            assertTrue(union.containsAll(pagesRead), "every page read is marked in some log");
            TreeSet<Long> last = logs.getLast().dirty();
            // Reads that completed after the last SET_LOG_BASE reply are in the last log.
            for (Long p : pagesRead.subList(atLastSwap + 1, pagesRead.size())) {
                assertTrue(last.contains(p), "page " + p + " read after the last swap is in the last log");
            }
            assertEquals(9, metrics.dirtyLogChanges());
            // vhostd keeps only the newest log mapped: the others are unmapped and their fds closed.
            for (Log l : logs) {
                long mappings = Files.readAllLines(Path.of("/proc/self/maps")).stream()
                        .filter(line -> line.contains("memfd:" + l.name + " ")).count();
                assertEquals(l == logs.getLast() ? 2 : 1, mappings, l.name + ": ours, plus vhostd's for the newest");
            }
        } finally {
            stop.set(true);
            io.join(10_000);
        }
    }

    /**
     * Hostile log bases are refused with a non-zero reply and a reason; the connection stays, the
     * previous log stays in use and I/O goes on.
     */
    @Test
    void hostileLogBasesAreRefusedAndTheDaemonKeepsServing() throws IOException {
        start("memory:1M");
        Log good = log("dirty-log");
        setLog(good);
        logAll(true);
        startRing(-1);
        Log tiny = new Log("dirty-log-tiny", 4096);
        // Too small: 32 guest pages need 4 bytes of bitmap.
        assertNotEquals(0, fe.setLogBase(3, 0, tiny.fd), "a log too small for the memory table");
        // Size beyond the fd.
        assertNotEquals(0, fe.setLogBase(8192, 0, tiny.fd), "a log larger than its fd");
        assertNotEquals(0, fe.setLogBase(8, 4096 - 4, tiny.fd), "offset + size beyond the fd");
        // Offset overflow.
        assertNotEquals(0, fe.setLogBase(4096, Long.MAX_VALUE - 100, tiny.fd), "offset + size overflows");
        assertNotEquals(0, fe.setLogBase(4096, -4096, tiny.fd), "offset beyond 2^63");
        // No fd, two fds.
        assertNotEquals(0, fe.setLogBase(4096, 0), "no fd");
        assertNotEquals(0, fe.setLogBase(4096, 0, tiny.fd, good.fd), "two fds");
        // Empty.
        assertNotEquals(0, fe.setLogBase(0, 0, tiny.fd), "empty log");
        // A used ring logged beyond the log is refused too (the ring keeps its old setting).
        assertNotEquals(0, setVringAddr(4096L * 8 * PAGE));
        assertEquals(1, metrics.dirtyLogChanges());
        assertTrue(metrics.invalidFrontendMessages() >= 9);

        FakeDriver.Buffer header = driver.buffer(16);
        FakeDriver.Buffer data = FakeDriver.bufferAt(12 * PAGE, 512);
        FakeDriver.Buffer status = FakeDriver.bufferAt(12 * PAGE + 600, 1);
        request(VirtioBlk.T_IN, 0, List.of(data), status, header);
        kick();
        awaitUsed();
        assertEquals(new TreeSet<>(List.of(12L)), good.take(), "the previous log is still in use");
        assertTrue(tiny.dirty().isEmpty());
    }

    /**
     * The front-end shrinks the log's fd under vhostd: the mark faults, the poller survives it, the
     * connection is closed (a migration cannot go on without marks), and the daemon serves the next
     * front-end.
     */
    @Test
    void aLogTruncatedUnderUsClosesThatConnectionOnly() throws Exception {
        start("memory:1M");
        Log log = log("dirty-log-truncated");
        setLog(log);
        logAll(true);
        startRing(-1);
        try (RandomAccessFile f = new RandomAccessFile("/proc/self/fd/" + log.fd, "rw")) {
            f.setLength(0);
        }
        FakeDriver.Buffer header = driver.buffer(16);
        request(VirtioBlk.T_IN, 0, List.of(FakeDriver.bufferAt(12 * PAGE, 512)), FakeDriver.bufferAt(12 * PAGE + 600, 1),
                header);
        kick();
        assertTrue(fe.awaitClosedByPeer(), "vhostd closes the connection whose log faulted");
        fe.close();
        fe = FakeFrontend.connect(dir.resolve("blk.sock"));
        assertTrue((fe.getFeatures() & LOG_ALL) != 0, "the daemon serves the next front-end");
    }

    /**
     * GET_VRING_BASE with reads in flight (a 50 ms device): the reply comes only after every request
     * is in the used ring and its pages are marked; afterwards vhostd writes nothing more.
     */
    @Test
    void getVringBaseCompletesAndLogsEverythingInFlightBeforeReplying() throws Exception {
        start("null:1M,latency=1000ms"); // long enough to see them in flight on a busy machine
        Log log = log("dirty-log");
        setLog(log);
        logAll(true);
        long logAddr = queue.usedGpa();
        startRing(logAddr);
        FakeDriver.Buffer header0 = driver.buffer(16);
        FakeDriver.Buffer header1 = driver.buffer(16);
        FakeDriver.Buffer header2 = driver.buffer(16);
        FakeDriver.Buffer[] headers = {header0, header1, header2};
        TreeSet<Long> expected = new TreeSet<>();
        for (int i = 0; i < 3; i++) {
            FakeDriver.Buffer data = FakeDriver.bufferAt((20 + i) * PAGE, 512);
            FakeDriver.Buffer status = FakeDriver.bufferAt((20 + i) * PAGE + 1000, 1);
            driver.write(data.gpa(), new byte[] {1, 2, 3});
            request(VirtioBlk.T_IN, i, List.of(data), status, headers[i]);
            expected.add(20L + i);
        }
        kick();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (metrics.queue(0).inFlight() < 3 && System.nanoTime() < deadline) {
            Thread.sleep(1);
        }
        assertEquals(3, metrics.queue(0).inFlight(), "all three requests are with the device");
        assertEquals(0, queue.usedIdx(), "none completed yet");
        assertEquals(3, fe.getVringBase(0).num(), "next avail index");
        assertEquals(3, queue.usedIdx(), "everything in flight was completed before the reply");
        expected.addAll(usedPages(logAddr, 0, 3));
        assertEquals(expected, log.take());
        byte[] ring = driver.read(queue.usedGpa(), (int) (6 + 8L * QUEUE_SIZE));
        byte[] pages = driver.read(20 * PAGE, (int) (3 * PAGE));
        Thread.sleep(200);
        assertTrue(java.util.Arrays.equals(ring, driver.read(queue.usedGpa(), ring.length)), "used ring untouched");
        assertTrue(java.util.Arrays.equals(pages, driver.read(20 * PAGE, pages.length)), "buffers untouched");
        assertTrue(log.dirty().isEmpty(), "nothing marked after the reply");
    }

    /** A memory table reaching past the log is refused while migrating (QEMU grows the log first). */
    @Test
    void memoryBeyondTheLogIsRefusedWhileLogging() throws IOException {
        start("memory:1M");
        setLog(log("dirty-log"));
        logAll(true);
        FakeDriver big = new FakeDriver(REGION, 128L << 20); // the 4 KiB log covers 128 MiB
        cleanup.add(big);
        int[] memFds = {big.fd(0), big.fd(1)};
        assertNotEquals(0, fe.setMemTable(big.memoryRegions(), memFds, true).getAsLong());
        logAll(false);
        ack(fe.setMemTable(big.memoryRegions(), memFds, true).getAsLong());
        assertNotEquals(0, fe.setFeatures(FEATURES | LOG_ALL, true).getAsLong(),
                "LOG_ALL refused: the log does not cover the new table");
    }
}
