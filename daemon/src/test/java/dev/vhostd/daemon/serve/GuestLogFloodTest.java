package dev.vhostd.daemon.serve;

import java.io.RandomAccessFile;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.vhostd.protocol.frontend.BlockIo;
import dev.vhostd.protocol.frontend.BufferChain;
import dev.vhostd.protocol.frontend.DriverQueue;
import dev.vhostd.protocol.frontend.GuestBuffer;
import dev.vhostd.protocol.frontend.VhostUserBlkFrontend;
import dev.vhostd.protocol.frontend.VirtioBlkSpec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A guest that submits nothing but invalid requests, and one whose every write fails in the backend,
 * against the real vhostd process: the log gets a few lines and a summary with the exact number left
 * out, the metrics count every single event.
 */
class GuestLogFloodTest {
    private static final int INVALID = 5000;
    private static final int FAILING_WRITES = 1500;
    private static final Pattern SUMMARY = Pattern.compile("(\\d+) more (.+?) in the last \\d+ s");

    @TempDir
    Path dir;

    private static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /** Full lines containing {@code text}, and the sum of the summaries' counts for {@code what}. */
    private static long fullLines(String log, String text) {
        return log.lines().filter(l -> l.contains(text)).count();
    }

    private static long summarized(String log, String what) {
        long n = 0;
        Matcher m = SUMMARY.matcher(log);
        while (m.find()) {
            if (m.group(2).equals(what)) {
                n += Long.parseLong(m.group(1));
            }
        }
        return n;
    }

    @Test
    void invalidChainsAreCountedExactlyButLoggedOnlyAFewTimes() throws Exception {
        int port = freePort();
        Path sock = dir.resolve("d.sock");
        try (VhostdProcess vhostd = VhostdProcess.serve(sock, dir.resolve("vhostd.log"),
                "--backend", "memory:16M", "--metrics", "127.0.0.1:" + port)) {
            try (VhostUserBlkFrontend dev = VhostUserBlkFrontend.open(sock,
                    new VhostUserBlkFrontend.Options(1, 256, true, 1 << 16))) {
                DriverQueue q = dev.queue(0);
                GuestBuffer status = dev.ram().allocate(1, 1);
                BufferChain chain = new BufferChain(2);
                // A header at guest address 0x10, below the only memory region: every chain is invalid.
                chain.readable(0x10, VirtioBlkSpec.HEADER_SIZE).writable(status.guestAddress(), 1);
                int submitted = 0;
                int completed = 0;
                long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
                while (completed < INVALID) {
                    assertTrue(System.nanoTime() < deadline, "only " + completed + " invalid chains completed");
                    while (submitted < INVALID && q.add(chain) >= 0) {
                        submitted++;
                    }
                    q.kickIfNeeded();
                    int n = q.reapUsed((head, len) -> { });
                    completed += n;
                    if (n == 0) {
                        Thread.sleep(1);
                    }
                }
            }
            assertEquals(INVALID, VhostdProcess.scrape(port, "vhostd_invalid_guest_input_total", "kind=\"bad_chain\""));
            String what = "invalid descriptor chains from this guest";
            assertTrue(vhostd.awaitLog(what + " in the last", Duration.ofSeconds(10)), "no summary:\n" + vhostd.log());
            String log = vhostd.log();
            long full = fullLines(log, "invalid descriptor chain at head");
            assertTrue(full >= 1 && full <= 20, full + " full lines for " + INVALID + " invalid chains");
            assertEquals(INVALID, full + summarized(log, what), "full lines plus summaries:\n" + log);
            assertFalse(log.contains("at head 0: invalid descriptor chain at head"), "repeated prefix:\n" + log);
            assertTrue(log.lines().count() < 60, "log has " + log.lines().count() + " lines:\n" + log);
        }
    }

    @Test
    void aBackendErrorThatEveryWriteRepeatsIsRateLimitedAndNamesItsErrno() throws Exception {
        int port = freePort();
        Path sock = dir.resolve("e.sock");
        Path img = dir.resolve("disk.img");
        try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "rw")) {
            f.setLength(64 << 20);
        }
        // RLIMIT_FSIZE of 1 MiB: every write past it fails with EFBIG (the JVM ignores SIGXFSZ).
        try (VhostdProcess vhostd = VhostdProcess.serve(List.of("prlimit", "--fsize=1048576"), sock,
                dir.resolve("vhostd.log"), "--blk-file", img.toString(), "--metrics", "127.0.0.1:" + port)) {
            try (VhostUserBlkFrontend dev = VhostUserBlkFrontend.open(sock,
                    new VhostUserBlkFrontend.Options(1, 64, true, 1 << 16));
                    BlockIo io = new BlockIo(dev, 0, 4096)) {
                for (int i = 0; i < FAILING_WRITES; i++) {
                    assertEquals(VirtioBlkSpec.S_IOERR, io.write(4096 + (i % 64) * 8L, 4096), "write " + i);
                }
            }
            assertEquals(FAILING_WRITES, VhostdProcess.scrape(port, "vhostd_backend_errors_total"));
            String what = "failed backend operations";
            assertTrue(vhostd.awaitLog(what + " in the last", Duration.ofSeconds(10)), "no summary:\n" + vhostd.log());
            String log = vhostd.log();
            long full = fullLines(log, "failed: EFBIG");
            assertTrue(full >= 1 && full <= 20, full + " full lines for " + FAILING_WRITES + " failed writes:\n" + log);
            assertEquals(FAILING_WRITES, full + summarized(log, what), log);
            assertFalse(log.contains("errno 27"), log);
        }
    }
}
