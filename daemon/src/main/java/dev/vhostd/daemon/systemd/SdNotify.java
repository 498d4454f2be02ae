package dev.vhostd.daemon.systemd;

import org.newsclub.net.unix.AFUNIXDatagramChannel;
import org.newsclub.net.unix.AFUNIXSocketAddress;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Objects;

/**
 * Tells the service manager about state changes over the NOTIFY_SOCKET datagram protocol
 * (sd_notify(3)): each message is one AF_UNIX datagram of newline-separated VAR=value assignments,
 * sent to the path in NOTIFY_SOCKET, or to an abstract-namespace address when it starts with '@'.
 *
 * <p>Without NOTIFY_SOCKET every call is a no-op that returns false, so the daemon calls it
 * unconditionally. A failed send is logged and reported, never thrown: the service manager being
 * unreachable must not take a VM's disk down (with Type=notify it will time the start out and say so).
 */
public final class SdNotify implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(SdNotify.class.getName());
    /** sizeof(sockaddr_un.sun_path) on Linux. */
    private static final int SUN_PATH_MAX = 108;

    private final String notifySocket;
    private final AFUNIXSocketAddress address;
    private AFUNIXDatagramChannel channel;
    private boolean closed;

    private SdNotify(String notifySocket, AFUNIXSocketAddress address) {
        this.notifySocket = notifySocket;
        this.address = address;
    }

    /** Uses this process's NOTIFY_SOCKET. */
    public static SdNotify fromEnvironment() {
        return fromEnvironment(System.getenv());
    }

    /**
     * Uses NOTIFY_SOCKET from {@code env}. An unusable value (relative path, too long, a vsock: address
     * this build cannot reach) is logged once and yields a disabled notifier.
     */
    public static SdNotify fromEnvironment(Map<String, String> env) {
        String value = env.get("NOTIFY_SOCKET");
        if (value == null || value.isEmpty()) {
            return new SdNotify(null, null);
        }
        try {
            return new SdNotify(value, parseAddress(value));
        } catch (IllegalArgumentException | IOException e) {
            LOG.log(System.Logger.Level.WARNING, "NOTIFY_SOCKET='" + value + "' is unusable, not notifying the "
                    + "service manager (with Type=notify the start will time out): " + e.getMessage());
            return new SdNotify(null, null);
        }
    }

    /** The address for a NOTIFY_SOCKET value: '@name' is abstract, '/path' a file system socket. */
    static AFUNIXSocketAddress parseAddress(String value) throws IOException {
        if (value.startsWith("@")) {
            String name = value.substring(1);
            // The abstract address is a NUL byte followed by the name, all inside sun_path.
            if (name.isEmpty() || name.getBytes(StandardCharsets.UTF_8).length + 1 > SUN_PATH_MAX) {
                throw new IllegalArgumentException("abstract socket name must be 1-" + (SUN_PATH_MAX - 1) + " bytes");
            }
            return AFUNIXSocketAddress.inAbstractNamespace(name);
        }
        if (value.startsWith("/")) {
            if (value.getBytes(StandardCharsets.UTF_8).length + 1 > SUN_PATH_MAX) {
                throw new IllegalArgumentException("socket path longer than " + (SUN_PATH_MAX - 1) + " bytes");
            }
            return AFUNIXSocketAddress.of(Path.of(value));
        }
        throw new IllegalArgumentException("expected an absolute path or '@abstract-name'"
                + (value.startsWith("vsock:") ? " (AF_VSOCK notification is not supported)" : ""));
    }

    /** Whether NOTIFY_SOCKET was set and usable. */
    public boolean isEnabled() {
        return address != null;
    }

    /** READY=1: start-up finished, the socket accepts connections (Type=notify waits for this). */
    public boolean ready() {
        return send("READY=1");
    }

    /** READY=1 plus a STATUS line in one datagram, so `systemctl status` shows it from the first moment. */
    public boolean ready(String status) {
        return send("READY=1\nSTATUS=" + checkValue(status));
    }

    /** STOPPING=1: shutdown began; systemd stops expecting watchdog pings. */
    public boolean stopping() {
        return send("STOPPING=1");
    }

    /** STATUS=...: one line shown by `systemctl status`. */
    public boolean status(String text) {
        return send("STATUS=" + checkValue(text));
    }

    /** WATCHDOG=1: the keep-alive ping for WatchdogSec=. */
    public boolean watchdog() {
        return send("WATCHDOG=1");
    }

    /** MAINPID=n: the service's main process is {@code pid} (for launchers that fork the JVM). */
    public boolean mainPid(long pid) {
        if (pid <= 0) {
            throw new IllegalArgumentException("MAINPID must be positive, not " + pid);
        }
        return send("MAINPID=" + pid);
    }

    /**
     * Sends {@code state} as one datagram, e.g. "READY=1\nSTATUS=serving". Returns whether it was sent;
     * false when disabled or when the send failed (logged at WARNING).
     */
    public synchronized boolean send(String state) {
        Objects.requireNonNull(state, "state");
        if (state.isEmpty() || state.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("notification must be non-empty and free of NUL bytes");
        }
        if (address == null || closed) {
            return false;
        }
        byte[] bytes = state.getBytes(StandardCharsets.UTF_8);
        try {
            if (channel == null) {
                channel = AFUNIXDatagramChannel.open();
            }
            // A datagram is sent whole or not at all; a short count would mean a truncated message.
            int sent = channel.send(ByteBuffer.wrap(bytes), address);
            if (sent != bytes.length) {
                throw new IOException("sent " + sent + " of " + bytes.length + " bytes");
            }
            return true;
        } catch (IOException e) {
            LOG.log(System.Logger.Level.WARNING, "could not notify the service manager at NOTIFY_SOCKET="
                    + notifySocket + " of '" + state.replace('\n', ' ') + "': " + e.getMessage());
            return false;
        }
    }

    @Override
    public synchronized void close() {
        closed = true;
        if (channel != null) {
            try {
                channel.close();
            } catch (IOException e) {
                LOG.log(System.Logger.Level.DEBUG, "closing the notification socket failed", e);
            }
            channel = null;
        }
    }

    @Override
    public String toString() {
        return address == null ? "SdNotify[disabled]" : "SdNotify[" + notifySocket + "]";
    }

    /** A value must stay on its own line: a newline would smuggle in another assignment. */
    private static String checkValue(String text) {
        Objects.requireNonNull(text, "text");
        if (text.indexOf('\n') >= 0) {
            throw new IllegalArgumentException("STATUS text must be a single line");
        }
        return text;
    }
}
