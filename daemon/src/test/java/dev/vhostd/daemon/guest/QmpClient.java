package dev.vhostd.daemon.guest;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

import dev.vhostd.daemon.testing.Json;

/**
 * A QEMU Machine Protocol client over a UNIX socket (run.sh --qmp): the capabilities handshake, then
 * one command at a time. Asynchronous events QEMU sends in between are skipped.
 */
public final class QmpClient implements AutoCloseable {
    private final SocketChannel channel;
    private final BufferedReader in;
    private final OutputStream out;

    private QmpClient(SocketChannel channel) {
        this.channel = channel;
        this.in = new BufferedReader(new InputStreamReader(Channels.newInputStream(channel), StandardCharsets.UTF_8));
        this.out = Channels.newOutputStream(channel);
    }

    /** Connects once QEMU listens on {@code socket} (it creates it while starting), then negotiates. */
    public static QmpClient connect(Path socket, Duration limit) {
        long deadline = System.nanoTime() + limit.toNanos();
        while (true) {
            SocketChannel ch = null;
            try {
                ch = SocketChannel.open(StandardProtocolFamily.UNIX);
                ch.connect(UnixDomainSocketAddress.of(socket));
                QmpClient q = new QmpClient(ch);
                q.readMessage(); // the greeting
                q.execute("qmp_capabilities", null);
                return q;
            } catch (IOException e) {
                closeQuietly(ch);
                if (System.nanoTime() > deadline) {
                    throw new UncheckedIOException("QMP socket " + socket + " did not answer within " + limit, e);
                }
                sleep(100);
            }
        }
    }

    /**
     * Runs {@code command} with {@code argumentsJson} (a JSON object, or null for none) and returns
     * its "return" value.
     *
     * @throws IllegalStateException with QEMU's error class and description if it failed
     */
    public Object execute(String command, String argumentsJson) throws IOException {
        String msg = "{\"execute\":\"" + command + "\"" + (argumentsJson == null ? "" : ",\"arguments\":" + argumentsJson)
                + "}\n";
        out.write(msg.getBytes(StandardCharsets.UTF_8));
        out.flush();
        while (true) {
            Map<String, Object> reply = readMessage();
            if (reply.containsKey("event")) {
                continue;
            }
            if (reply.containsKey("error")) {
                throw new IllegalStateException("QMP " + command + " failed: " + reply.get("error"));
            }
            return reply.get("return");
        }
    }

    /** {@link #execute} for commands whose "return" is an object. */
    public Map<String, Object> query(String command) throws IOException {
        return Json.object(execute(command, null));
    }

    private Map<String, Object> readMessage() throws IOException {
        String line = in.readLine();
        if (line == null) {
            throw new IOException("QEMU closed the QMP connection");
        }
        return Json.object(Json.parse(line));
    }

    @Override
    public void close() {
        closeQuietly(channel);
    }

    private static void closeQuietly(SocketChannel ch) {
        if (ch != null) {
            try {
                ch.close();
            } catch (IOException ignored) {
                // Closing a socket to a QEMU that may already have quit: nothing left to release.
            }
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }
}
