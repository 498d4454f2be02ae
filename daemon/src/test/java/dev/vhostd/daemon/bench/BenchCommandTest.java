package dev.vhostd.daemon.bench;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.RandomAccessFile;
import java.nio.file.Path;

import dev.vhostd.protocol.frontend.QsdProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code vhostd bench} end to end against qemu-storage-daemon. */
class BenchCommandTest {
    @TempDir
    Path dir;

    private record Run(int exit, String out, String err) {}

    private static Run bench(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exit = new CommandLine(new BenchCommand()).setCaseInsensitiveEnumValuesAllowed(true)
                .setOut(new PrintWriter(out)).setErr(new PrintWriter(err)).execute(args);
        return new Run(exit, out.toString(), err.toString());
    }

    @Test
    void verifiedRandomReadWriteOnTwoQueuesOfAFile() throws Exception {
        Path image = dir.resolve("disk.img");
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(16 << 20);
        }
        try (QsdProcess qsd = QsdProcess.fileDisk(dir, image, 2)) {
            Run r = bench("--socket", qsd.socket().toString(), "--queues", "2", "--depth", "8", "--rw", "randrw",
                    "--verify", "--seconds", "1", "--ramp", "0.2", "--ramp-max", "0");
            assertEquals(0, r.exit(), r.out() + r.err());
            assertTrue(r.err().contains("verify: writing all 4096 blocks"), r.err());
            assertTrue(r.out().contains(" mismatches=0 "), r.out());
            assertTrue(r.out().contains(" errors=0 "), r.out());
            assertTrue(r.out().contains(" backend_pid=" + qsd.pid()), "pid from SO_PEERCRED: " + r.out());
            long reads = Long.parseLong(r.out().replaceAll("(?s).* reads=(\\d+) .*", "$1").trim());
            assertTrue(reads > 100, r.out());
        }
    }

    @Test
    void verifyCatchesADiskThatDropsWrites() throws Exception {
        // null-co discards writes and reads zeroes: every verified read must fail.
        try (QsdProcess qsd = QsdProcess.nullDisk(dir, 8 << 20, 1)) {
            Run r = bench("--socket", qsd.socket().toString(), "--depth", "4", "--rw", "randread", "--verify",
                    "--seconds", "0.3", "--ramp", "0", "--json");
            assertEquals(1, r.exit(), r.out() + r.err());
            assertTrue(r.out().startsWith("{\"rw\":\"randread\""), r.out());
            assertTrue(r.out().contains("\"mismatch_reports\":[\"queue 0 sector "), r.out());
            assertTrue(r.out().contains("read 0x0000000000000000"), r.out());
        }
    }

    @Test
    void eventIdxOffAndSequentialLargeBlocks() throws Exception {
        try (QsdProcess qsd = QsdProcess.nullDisk(dir, 64 << 20, 1)) {
            Run r = bench("--socket", qsd.socket().toString(), "--depth", "4", "--bs", "64k", "--rw", "read",
                    "--event-idx", "off", "--seconds", "0.5", "--ramp", "0");
            assertEquals(0, r.exit(), r.out() + r.err());
            assertTrue(r.out().contains("event_idx=off"), r.out());
            assertTrue(r.out().contains(" bs=65536 "), r.out());
        }
    }

    @Test
    void adaptiveRampWaitsForThroughputToSettleThenMeasuresTheGivenTime() throws Exception {
        try (QsdProcess qsd = QsdProcess.nullDisk(dir, 64 << 20, 1)) {
            Run r = bench("--socket", qsd.socket().toString(), "--depth", "8", "--seconds", "1", "--ramp", "1",
                    "--ramp-max", "6");
            assertEquals(0, r.exit(), r.out() + r.err());
            long rampLines = r.err().lines().filter(l -> l.contains(" ramp ")).count();
            assertTrue(rampLines >= 2 && rampLines <= 6, "at least two seconds to compare, at most --ramp-max: " + r.err());
            double seconds = Double.parseDouble(r.out().replaceAll("(?s).* seconds=([0-9.]+) .*", "$1").trim());
            assertEquals(1.0, seconds, 0.05, r.out());
        }
    }

    @Test
    void badOptionsAndMissingSocketFailClearly() {
        Run bad = bench("--socket", dir.resolve("none").toString(), "--depth", "500");
        assertEquals(2, bad.exit());
        assertTrue(bad.err().contains("--depth must be 1..341"), bad.err());
        Run missing = bench("--socket", dir.resolve("none").toString(), "--seconds", "1");
        assertEquals(1, missing.exit());
        assertTrue(missing.err().startsWith("vhostd bench: cannot connect to vhost-user socket"), missing.err());
        assertTrue(!missing.err().contains("\tat "), "no stack trace: " + missing.err());
    }

    @Test
    void tooManyQueuesIsRefusedWithTheBackendsCount() throws Exception {
        try (QsdProcess qsd = QsdProcess.nullDisk(dir, 8 << 20, 1)) {
            Run r = bench("--socket", qsd.socket().toString(), "--queues", "2", "--seconds", "0.2");
            assertEquals(1, r.exit());
            assertTrue(r.err().contains("asked for 2 queues but the back-end offers 1"), r.err());
        }
    }
}
