package dev.vhostd.daemon.systemd;

import dev.vhostd.sys.Libc;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The sockets a service manager passed to this process, per sd_listen_fds(3): LISTEN_FDS counts fds
 * starting at 3, LISTEN_PID names the process they are meant for (a child that inherited the
 * environment must not use them), LISTEN_FDNAMES holds one colon-separated name per fd.
 *
 * <p>Anything malformed yields an empty result with a {@link #reason()} for a debug log, as
 * libsystemd does; the daemon then falls back to binding its own socket or reports that none was
 * given. Java cannot unset environment variables, so they stay set; vhostd starts no children, so
 * none can mistake them for their own (and LISTEN_PID would stop them anyway).
 */
public final class ListenFds {
    /** SD_LISTEN_FDS_START in sd-daemon.h. */
    public static final int SD_LISTEN_FDS_START = 3;
    /** Name systemd reports for fds when LISTEN_FDNAMES is absent. */
    public static final String UNKNOWN_NAME = "unknown";
    /**
     * More than this is a corrupt environment, not a real socket unit (systemd itself rejects counts
     * that would overflow an int; a vhostd instance needs one).
     */
    static final int MAX_FDS = 1024;

    private final List<ListenFd> fds;
    private final String reason;

    private ListenFds(List<ListenFd> fds, String reason) {
        this.fds = List.copyOf(fds);
        this.reason = reason;
    }

    /** Reads this process's environment and pid. */
    public static ListenFds fromEnvironment() {
        return parse(System.getenv(), Libc.getpid());
    }

    /** Parses an environment as if this process had pid {@code ourPid}; for tests and fromEnvironment. */
    public static ListenFds parse(Map<String, String> env, long ourPid) {
        Objects.requireNonNull(env, "env");
        String count = env.get("LISTEN_FDS");
        if (count == null) {
            return none("LISTEN_FDS is not set: not socket-activated");
        }
        String pid = env.get("LISTEN_PID");
        if (pid == null) {
            return none("LISTEN_FDS is set but LISTEN_PID is not: ignoring the inherited sockets");
        }
        long listenPid = parseDecimal(pid);
        if (listenPid <= 0) {
            return none("LISTEN_PID='" + pid + "' is not a positive number: ignoring the inherited sockets");
        }
        if (listenPid != ourPid) {
            return none("LISTEN_PID=" + listenPid + " names another process (this is " + ourPid
                    + "): the sockets were meant for a parent, ignoring them");
        }
        long n = parseDecimal(count);
        if (n < 0) {
            return none("LISTEN_FDS='" + count + "' is not a number: ignoring the inherited sockets");
        }
        if (n == 0) {
            return none("LISTEN_FDS=0: the service manager passed no sockets");
        }
        if (n > MAX_FDS) {
            return none("LISTEN_FDS=" + n + " is more than " + MAX_FDS + ": ignoring a corrupt environment");
        }
        List<String> names = names(env.get("LISTEN_FDNAMES"), (int) n);
        if (names == null) {
            return none("LISTEN_FDNAMES='" + env.get("LISTEN_FDNAMES") + "' does not hold exactly " + n
                    + " colon-separated names: ignoring the inherited sockets");
        }
        List<ListenFd> fds = new ArrayList<>((int) n);
        for (int i = 0; i < n; i++) {
            fds.add(new ListenFd(SD_LISTEN_FDS_START + i, names.get(i)));
        }
        return new ListenFds(fds, "");
    }

    /** The passed fds in order (fd 3 first); empty when not socket-activated. */
    public List<ListenFd> fds() {
        return fds;
    }

    public boolean isEmpty() {
        return fds.isEmpty();
    }

    /** Why the result is empty, for a debug log; "" when fds were found. */
    public String reason() {
        return reason;
    }

    /**
     * The fd vhostd should listen on: the one named {@code name} (the socket unit's
     * {@code FileDescriptorName=}), else the only one passed. Several fds and none of them named
     * {@code name} is a unit misconfiguration, not something to guess about: picking the wrong socket
     * would hand a VM's disk to whoever connects to it.
     *
     * @throws IllegalStateException when nothing was passed or the choice is ambiguous
     */
    public ListenFd select(String name) {
        Objects.requireNonNull(name, "name");
        if (fds.isEmpty()) {
            throw new IllegalStateException("no socket was passed by the service manager (" + reason + ")");
        }
        for (ListenFd fd : fds) {
            if (fd.name().equals(name)) {
                return fd;
            }
        }
        if (fds.size() == 1) {
            return fds.getFirst();
        }
        throw new IllegalStateException("the service manager passed " + fds.size() + " sockets " + fds
                + " and none is named '" + name + "': set FileDescriptorName=" + name
                + " on the vhostd socket unit");
    }

    /** Whether fd {@code n} is one of the passed sockets (to check an explicit --fd against them). */
    public boolean contains(int n) {
        for (ListenFd fd : fds) {
            if (fd.fd() == n) {
                return true;
            }
        }
        return false;
    }

    @Override
    public String toString() {
        return fds.isEmpty() ? "ListenFds[none: " + reason + "]" : "ListenFds" + fds;
    }

    private static ListenFds none(String reason) {
        return new ListenFds(List.of(), reason);
    }

    /** Names per LISTEN_FDNAMES, "unknown" for each when unset; null when the count does not match. */
    private static List<String> names(String value, int n) {
        List<String> names = new ArrayList<>(n);
        if (value == null) {
            for (int i = 0; i < n; i++) {
                names.add(UNKNOWN_NAME);
            }
            return names;
        }
        int start = 0;
        while (true) {
            int colon = value.indexOf(':', start);
            String part = colon < 0 ? value.substring(start) : value.substring(start, colon);
            // systemd never passes an empty name (FileDescriptorName= must be 1-255 printable chars).
            if (part.isEmpty() || names.size() == n) {
                return null;
            }
            names.add(part);
            if (colon < 0) {
                break;
            }
            start = colon + 1;
        }
        return names.size() == n ? names : null;
    }

    /** A plain non-negative decimal below 2^31 (no sign, no spaces), or -1. */
    private static long parseDecimal(String s) {
        long v = EnvDecimal.parse(s, 10);
        return v > Integer.MAX_VALUE ? -1 : v;
    }
}
