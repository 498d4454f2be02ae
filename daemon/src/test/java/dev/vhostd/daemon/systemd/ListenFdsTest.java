package dev.vhostd.daemon.systemd;

import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ListenFdsTest {
    private static final long PID = 4242;

    private static Map<String, String> env(String... kv) {
        Map<String, String> m = new HashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put(kv[i], kv[i + 1]);
        }
        return m;
    }

    private static void assertNone(ListenFds r, String reasonFragment) {
        assertTrue(r.isEmpty(), r::toString);
        assertTrue(r.reason().contains(reasonFragment), () -> "reason '" + r.reason() + "' lacks " + reasonFragment);
    }

    @Test
    void singleNamedFd() {
        ListenFds r = ListenFds.parse(env("LISTEN_FDS", "1", "LISTEN_PID", "4242", "LISTEN_FDNAMES", "vhostd"), PID);
        assertEquals(List.of(new ListenFd(3, "vhostd")), r.fds());
        assertEquals("", r.reason());
        assertEquals(new ListenFd(3, "vhostd"), r.select("vhostd"));
        assertTrue(r.contains(3));
        assertFalse(r.contains(4));
    }

    @Test
    void namesDefaultToUnknownWhenUnset() {
        ListenFds r = ListenFds.parse(env("LISTEN_FDS", "2", "LISTEN_PID", "4242"), PID);
        assertEquals(List.of(new ListenFd(3, "unknown"), new ListenFd(4, "unknown")), r.fds());
    }

    @Test
    void unsetMeansNotActivated() {
        assertNone(ListenFds.parse(env(), PID), "not set");
    }

    @Test
    void missingPidIsIgnored() {
        assertNone(ListenFds.parse(env("LISTEN_FDS", "1"), PID), "LISTEN_PID is not");
    }

    @Test
    void pidOfAnotherProcessIsIgnored() {
        assertNone(ListenFds.parse(env("LISTEN_FDS", "1", "LISTEN_PID", "4241"), PID), "another process");
    }

    @Test
    void nonNumericValuesAreIgnored() {
        assertNone(ListenFds.parse(env("LISTEN_FDS", "one", "LISTEN_PID", "4242"), PID), "not a number");
        assertNone(ListenFds.parse(env("LISTEN_FDS", "-1", "LISTEN_PID", "4242"), PID), "not a number");
        assertNone(ListenFds.parse(env("LISTEN_FDS", " 1", "LISTEN_PID", "4242"), PID), "not a number");
        assertNone(ListenFds.parse(env("LISTEN_FDS", "", "LISTEN_PID", "4242"), PID), "not a number");
        assertNone(ListenFds.parse(env("LISTEN_FDS", "99999999999", "LISTEN_PID", "4242"), PID), "not a number");
        assertNone(ListenFds.parse(env("LISTEN_FDS", "1", "LISTEN_PID", "42x"), PID), "not a positive");
        assertNone(ListenFds.parse(env("LISTEN_FDS", "1", "LISTEN_PID", "0"), PID), "not a positive");
    }

    @Test
    void zeroFdsIsEmpty() {
        assertNone(ListenFds.parse(env("LISTEN_FDS", "0", "LISTEN_PID", "4242"), PID), "LISTEN_FDS=0");
    }

    @Test
    void absurdCountIsRejected() {
        assertNone(ListenFds.parse(env("LISTEN_FDS", "100000", "LISTEN_PID", "4242"), PID), "corrupt");
    }

    @Test
    void nameCountMustMatch() {
        assertNone(ListenFds.parse(env("LISTEN_FDS", "2", "LISTEN_PID", "4242", "LISTEN_FDNAMES", "a"), PID),
                "exactly 2");
        assertNone(ListenFds.parse(env("LISTEN_FDS", "1", "LISTEN_PID", "4242", "LISTEN_FDNAMES", "a:b"), PID),
                "exactly 1");
        assertNone(ListenFds.parse(env("LISTEN_FDS", "2", "LISTEN_PID", "4242", "LISTEN_FDNAMES", "a:"), PID),
                "exactly 2");
        assertNone(ListenFds.parse(env("LISTEN_FDS", "1", "LISTEN_PID", "4242", "LISTEN_FDNAMES", ""), PID),
                "exactly 1");
    }

    @Test
    void selectByNameAmongSeveral() {
        ListenFds r = ListenFds.parse(
                env("LISTEN_FDS", "3", "LISTEN_PID", "4242", "LISTEN_FDNAMES", "metrics:vhostd:other"), PID);
        assertEquals(new ListenFd(4, "vhostd"), r.select("vhostd"));
        assertEquals(new ListenFd(3, "metrics"), r.select("metrics"));
    }

    @Test
    void singleFdIsUsedWhateverItsName() {
        ListenFds r = ListenFds.parse(
                env("LISTEN_FDS", "1", "LISTEN_PID", "4242", "LISTEN_FDNAMES", "vhostd@disk1.socket"), PID);
        assertEquals(new ListenFd(3, "vhostd@disk1.socket"), r.select("vhostd"));
    }

    @Test
    void severalUnnamedFdsAreAmbiguous() {
        ListenFds r = ListenFds.parse(env("LISTEN_FDS", "2", "LISTEN_PID", "4242"), PID);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> r.select("vhostd"));
        assertTrue(e.getMessage().contains("FileDescriptorName=vhostd"), e.getMessage());
    }

    @Test
    void selectOnEmptyExplainsWhy() {
        ListenFds r = ListenFds.parse(env(), PID);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> r.select("vhostd"));
        assertTrue(e.getMessage().contains("not socket-activated"), e.getMessage());
    }

    @Test
    void fromEnvironmentOfThisTestProcessIsEmpty() {
        // Surefire's fork is not socket-activated; if it ever were, LISTEN_PID would not name it.
        assertTrue(ListenFds.fromEnvironment().isEmpty());
    }
}
