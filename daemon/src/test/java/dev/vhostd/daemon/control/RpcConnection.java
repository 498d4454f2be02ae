package dev.vhostd.daemon.control;

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

/** A raw line-oriented client for tests: sends exactly the bytes given, reads one response line. */
final class RpcConnection implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final SocketChannel ch;
    private final ByteBuffer in = ByteBuffer.allocate(1 << 16).flip();

    RpcConnection(Path socket) throws IOException {
        ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        ch.connect(UnixDomainSocketAddress.of(socket));
    }

    void send(String raw) throws IOException {
        send(raw.getBytes(StandardCharsets.UTF_8));
    }

    void send(byte[] raw) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(raw);
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    /** The next response line as JSON, or null at end of stream. */
    JsonNode receive() throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        while (true) {
            while (in.hasRemaining()) {
                byte c = in.get();
                if (c == '\n') {
                    return JSON.readTree(line.toByteArray());
                }
                line.write(c);
            }
            in.clear();
            int n = ch.read(in);
            in.flip();
            if (n < 0) {
                return null;
            }
        }
    }

    /** Sends one request line and returns the response. */
    JsonNode call(String method, String params) throws IOException {
        send("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"" + method + "\"" + (params == null ? "" : ",\"params\":" + params) + "}\n");
        return receive();
    }

    @Override
    public void close() throws IOException {
        ch.close();
    }
}
