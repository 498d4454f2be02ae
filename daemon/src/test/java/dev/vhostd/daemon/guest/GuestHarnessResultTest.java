package dev.vhostd.daemon.guest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Parsing of guest console output, without booting anything. */
class GuestHarnessResultTest {

    @Test
    void resultLinesAreCollectedFromTheConsoleWithCarriageReturnsRemoved() {
        GuestResult r = GuestResult.of(0, """
                [    1.0] virtio_blk virtio0: [vda] 131072 512-byte logical blocks\r
                RESULT a=1 b=two\r
                not a RESULT c=3\r
                RESULT b=2 flag c=x=y\r
                VHOSTD-GUEST-EXIT=0\r
                """, "");

        assertEquals(List.of("a=1 b=two", "b=2 flag c=x=y"), r.resultLines());
        assertEquals(Map.of("a", "1", "b", "2", "c", "x=y"), r.results());
        assertEquals(1, r.resultLong("a"));
        assertTrue(r.console().indexOf('\r') < 0);
    }

    @Test
    void missingOrMalformedValuesFailWithTheConsole() {
        GuestResult r = GuestResult.of(0, "RESULT n=abc\nboot log line\n", "qemu said nothing");

        AssertionError missing = assertThrows(AssertionError.class, () -> r.result("absent"));
        assertTrue(missing.getMessage().contains("boot log line"), missing.getMessage());
        assertThrows(AssertionError.class, () -> r.resultLong("n"));
    }

    @Test
    void failureKindsAreNamed() {
        assertThrows(AssertionError.class, () -> GuestResult.of(GuestResult.TIMED_OUT, "", "").requireSuccess());
        assertEquals("timed out, QEMU killed", GuestResult.of(124, "", "").describeExit());
        assertEquals("the guest never reported a result", GuestResult.of(125, "", "").describeExit());
        assertEquals("exit code 3", GuestResult.of(3, "", "").describeExit());
    }

    @Test
    void optionsRejectValuesQemuWouldRefuseLate() {
        GuestVm.Options d = GuestVm.Options.defaults();
        assertThrows(IllegalArgumentException.class, () -> d.withQueues(0));
        assertThrows(IllegalArgumentException.class, () -> d.withQueueSize(100));
        assertThrows(IllegalArgumentException.class, () -> d.withMemMiB(64));
        assertThrows(IllegalArgumentException.class, () -> d.withTimeout(Duration.ZERO));
        assertEquals(256, d.withQueueSize(256).queueSize());
    }
}
