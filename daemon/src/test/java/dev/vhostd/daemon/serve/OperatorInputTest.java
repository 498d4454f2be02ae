package dev.vhostd.daemon.serve;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Mistakes an operator makes on the command line, against the real vhostd process: each gets one
 * line that names the option and the limit, and exit status 1, before anything is created or bound.
 */
class OperatorInputTest {
    @TempDir
    Path dir;

    /** Runs {@code vhostd serve ARGS}, expects exit 1 and exactly one line, and returns that line. */
    private static String refused(List<String> wrapper, String... args) throws Exception {
        String[] all = new String[args.length + 1];
        all[0] = "serve";
        System.arraycopy(args, 0, all, 1, args.length);
        VhostdProcess.Outcome o = VhostdProcess.run(wrapper, all);
        assertEquals(1, o.exitStatus(), () -> "exit status of vhostd " + String.join(" ", all) + ":\n" + o.output());
        assertEquals(1, o.lines().size(), () -> "one line expected from vhostd " + String.join(" ", all) + ":\n"
                + o.output());
        return o.lines().get(0);
    }

    private static String refused(String... args) throws Exception {
        return refused(List.of(), args);
    }

    private String sock() {
        return dir.resolve("d.sock").toString();
    }

    @Test
    void queueSizeOutOfRangeNamesTheOptionAndTheSplitRingLimit() throws Exception {
        for (String size : new String[] {"0", "65536", "1000"}) {
            String line = refused("--socket", sock(), "--queue-size", size);
            assertTrue(line.contains("--queue-size") && line.contains("32768") && line.contains(size), line);
            assertFalse(line.contains("queue depth"), line);
        }
        assertFalse(Files.exists(dir.resolve("d.sock")));
    }

    @Test
    void socketPathLongerThanSunPathNamesThePathAndTheLimit() throws Exception {
        Path longPath = dir.resolve("x".repeat(120) + ".sock");
        String line = refused("--socket", longPath.toString());
        assertTrue(line.contains(longPath.toString()) && line.contains("107"), line);
    }

    @Test
    void metricsPortInUseFailsBeforeListeningAndPrintsTheAddressAsTyped() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            String address = "127.0.0.1:" + taken.getLocalPort();
            String line = refused("--socket", sock(), "--metrics", address);
            assertTrue(line.contains("cannot listen for metrics on " + address + ":"), line);
            assertFalse(line.contains("/127.0.0.1"), line);
        }
        assertFalse(Files.exists(dir.resolve("d.sock")), "the vhost-user socket must not have been created");
    }

    @Test
    void metricsPortOutOfRangeIsOneLineNotTheUsage() throws Exception {
        String line = refused("--socket", sock(), "--metrics", "127.0.0.1:99999");
        assertTrue(line.contains("99999") && line.contains("65535"), line);
    }

    @Test
    void metricsRecordingOffWithAnEndpointOrAnUnknownValueIsRefused() throws Exception {
        String both = refused("--socket", sock(), "--metrics-recording", "off", "--metrics", "127.0.0.1:9");
        assertTrue(both.contains("--metrics-recording off") && both.contains("127.0.0.1:9"), both);
        String odd = refused("--socket", sock(), "--metrics-recording", "no");
        assertTrue(odd.contains("--metrics-recording") && odd.contains("on or off") && odd.contains("\"no\""), odd);
    }

    @Test
    void serialLongerThan20BytesIsRefusedNotTruncated() throws Exception {
        String line = refused("--socket", sock(), "--serial", "abcdefghijklmnopqrstu");
        assertTrue(line.contains("--serial") && line.contains("21 bytes") && line.contains("20"), line);
    }

    @Test
    void backendAndBlkFileTogetherAreRefused() throws Exception {
        String line = refused("--socket", sock(), "--backend", "memory:1M", "--blk-file", dir.resolve("f").toString());
        assertTrue(line.contains("--backend") && line.contains("--blk-file"), line);
        assertFalse(Files.exists(dir.resolve("f")));
    }

    @Test
    void fileSizeNotAMultipleOfTheBlockSizeIsRefused() throws Exception {
        Path img = dir.resolve("odd.img");
        Files.write(img, new byte[1000]);
        String line = refused("--socket", sock(), "--blk-file", img.toString());
        assertTrue(line.contains("1000 bytes") && line.contains("512") && line.contains("truncate -s 1024"), line);
    }

    @Test
    void unreadableFileDoesNotSuggestReadOnly() throws Exception {
        Path img = dir.resolve("locked.img");
        Files.write(img, new byte[4096]);
        Files.setPosixFilePermissions(img, PosixFilePermissions.fromString("---------"));
        // Root ignores file modes; without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH it meets them like anyone.
        List<String> noDacOverride = List.of("setpriv", "--bounding-set=-dac_override,-dac_read_search");
        String line = refused(noDacOverride, "--socket", sock(), "--blk-file", img.toString());
        assertTrue(line.contains("permission denied") && line.contains("read"), line);
        assertFalse(line.contains("--read-only"), line);

        // Readable but not writable: then --read-only is the right advice.
        Files.setPosixFilePermissions(img, PosixFilePermissions.fromString("r--r--r--"));
        String ro = refused(noDacOverride, "--socket", sock(), "--blk-file", img.toString());
        assertTrue(ro.contains("--read-only"), ro);
    }

    @Test
    void readmeFuzzCommandsNameTestClassesThatExist() throws IOException {
        Path root = Path.of("").toAbsolutePath();
        while (!Files.exists(root.resolve("README.md")) || !Files.isDirectory(root.resolve("protocol"))) {
            root = root.getParent();
        }
        String readme = Files.readString(root.resolve("README.md"));
        var m = java.util.regex.Pattern.compile("-pl (\\w+) test -Dtest=(\\w+)").matcher(readme);
        int found = 0;
        while (m.find()) {
            found++;
            String module = m.group(1);
            String cls = m.group(2);
            try (var files = Files.walk(root.resolve(module).resolve("src/test/java"))) {
                assertTrue(files.anyMatch(f -> f.getFileName().toString().equals(cls + ".java")),
                        "README names " + cls + " in module " + module + ", which has no such test class");
            }
        }
        assertTrue(found >= 2, "the README's fuzz commands were not found");
    }
}
