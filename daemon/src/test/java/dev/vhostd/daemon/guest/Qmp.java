package dev.vhostd.daemon.guest;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.io.BufferedReader;
import java.io.InputStreamReader;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/** A minimal QMP client for tests: the greeting, qmp_capabilities, commands, and waiting for an event. */
public final class Qmp implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final SocketChannel ch;
    private final BufferedReader in;
    private final java.util.List<JsonNode> events = new java.util.ArrayList<>();

    private Qmp(SocketChannel ch) throws IOException {
        this.ch = ch;
        this.in = new BufferedReader(new InputStreamReader(Channels.newInputStream(ch), StandardCharsets.UTF_8));
        JsonNode greeting = JSON.readTree(in.readLine());
        if (greeting.get("QMP") == null) {
            throw new IOException("not a QMP greeting: " + greeting);
        }
        execute("{\"execute\":\"qmp_capabilities\"}");
    }

    /** Connects once QEMU has created {@code socket}. */
    public static Qmp connect(Path socket, Duration limit) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + limit.toNanos();
        IOException last = null;
        while (System.nanoTime() < deadline) {
            if (Files.exists(socket)) {
                SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
                try {
                    ch.connect(UnixDomainSocketAddress.of(socket));
                    return new Qmp(ch);
                } catch (IOException e) {
                    ch.close();
                    last = e;
                }
            }
            Thread.sleep(100);
        }
        throw new IOException("no QMP on " + socket + " within " + limit, last);
    }

    /** Sends one command and returns its "return" value; throws with QEMU's error. */
    public JsonNode execute(String command) throws IOException {
        ByteBuffer b = ByteBuffer.wrap((command + "\n").getBytes(StandardCharsets.UTF_8));
        while (b.hasRemaining()) {
            ch.write(b);
        }
        while (true) {
            String line = in.readLine();
            if (line == null) {
                throw new IOException("QMP closed while waiting for the answer to " + command);
            }
            JsonNode r = JSON.readTree(line);
            if (r.has("event")) {
                events.add(r);
                continue;
            }
            if (r.has("error")) {
                throw new IOException("QMP " + command + " failed: " + r.get("error"));
            }
            return r.get("return");
        }
    }

    /** Waits for an event named {@code name} (one that arrived earlier counts). */
    public JsonNode awaitEvent(String name, Duration limit) throws IOException {
        for (JsonNode e : events) {
            if (name.equals(e.get("event").asText())) {
                events.remove(e);
                return e;
            }
        }
        long deadline = System.nanoTime() + limit.toNanos();
        while (System.nanoTime() < deadline) {
            // Poll with a short timeout by asking QEMU something harmless; events arrive in between.
            execute("{\"execute\":\"query-status\"}");
            for (JsonNode e : events) {
                if (name.equals(e.get("event").asText())) {
                    events.remove(e);
                    return e;
                }
            }
            try {
                Thread.sleep(200);
            } catch (InterruptedException x) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted", x);
            }
        }
        throw new IOException("no " + name + " event within " + limit + "; events seen: " + events);
    }

    @Override
    public void close() throws IOException {
        ch.close();
    }
}
