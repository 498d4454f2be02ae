package dev.vhostd.daemon.ctl;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.vhostd.daemon.JsonMapping;

/** A JSON-RPC 2.0 client for the control socket: one request line out, one response line back. */
public final class ControlClient implements AutoCloseable {
    private final ObjectMapper json = JsonMapping.mapper();
    private final Path path;
    private final SocketChannel channel;
    private final ByteBuffer in = ByteBuffer.allocate(64 * 1024);
    private int nextId = 1;

    /** The daemon answered with a JSON-RPC error. */
    public static final class RemoteError extends Exception {
        private final int code;

        RemoteError(int code, String message) {
            super(message, null, false, false);
            this.code = code;
        }

        public int code() {
            return code;
        }
    }

    public ControlClient(Path path) throws IOException {
        this.path = path;
        SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            ch.connect(UnixDomainSocketAddress.of(path));
        } catch (IOException e) {
            ch.close();
            throw new IOException("cannot reach vhostd's control socket " + path + ": " + e.getMessage()
                    + "; is 'vhostd serve --control " + path + "' running (or pass --control PATH)?", e);
        }
        this.channel = ch;
        in.flip();
    }

    /** Calls {@code method}; returns its result or throws the daemon's error. */
    public JsonNode call(String method, ObjectNode params) throws IOException, RemoteError {
        ObjectNode req = json.createObjectNode();
        req.put("jsonrpc", "2.0");
        req.put("id", nextId++);
        req.put("method", method);
        if (params != null) {
            req.set("params", params);
        }
        byte[] bytes = json.writeValueAsBytes(req);
        ByteBuffer out = ByteBuffer.allocate(bytes.length + 1).put(bytes).put((byte) '\n').flip();
        while (out.hasRemaining()) {
            channel.write(out);
        }
        JsonNode response = json.readTree(readLine());
        JsonNode error = response.get("error");
        if (error != null) {
            throw new RemoteError(error.path("code").asInt(), error.path("message").asText());
        }
        return response.get("result");
    }

    public ObjectNode params() {
        return json.createObjectNode();
    }

    private byte[] readLine() throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        while (true) {
            while (in.hasRemaining()) {
                byte b = in.get();
                if (b == '\n') {
                    return line.toByteArray();
                }
                line.write(b);
            }
            in.clear();
            int n = channel.read(in);
            in.flip();
            if (n < 0) {
                throw new IOException("vhostd closed the control connection " + path + " without answering"
                        + (line.size() > 0 ? " (partial: " + line.toString(StandardCharsets.UTF_8) + ")" : ""));
            }
        }
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
