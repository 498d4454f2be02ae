package dev.vhostd.daemon.control;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.vhostd.daemon.JsonMapping;

/**
 * The control socket: JSON-RPC 2.0 over a UNIX stream socket, one request per line and one
 * response per line. Each client is served on its own virtual thread (the JDK's UNIX channels park
 * virtual threads without holding a carrier), so idle clients cost no platform thread.
 *
 * <p>The socket is created under a temporary name, given its mode (0600, or 0660 with a group)
 * and only then renamed into place, so there is no moment when others could connect.
 */
public final class ControlServer implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("vhostd");
    /** Largest request line; a longer one is answered with an error and the connection closed. */
    static final int MAX_REQUEST_BYTES = 1 << 20;

    private final ObjectMapper json = JsonMapping.mapper();
    private final ControlApi api;
    private final Path path;
    private final ServerSocketChannel server;
    private final Set<SocketChannel> clients = ConcurrentHashMap.newKeySet();
    private final Thread acceptThread;
    private volatile boolean closed;

    private ControlServer(ControlApi api, Path path, ServerSocketChannel server) {
        this.api = api;
        this.path = path;
        this.server = server;
        this.acceptThread = Thread.ofVirtual().name("vhostd-control").start(this::acceptLoop);
    }

    /**
     * Creates the control socket at {@code path} (absolute; a stale socket is replaced, a live one
     * refused), mode 0600, or 0660 owned by {@code group} when given, and starts answering.
     */
    public static ControlServer start(Path path, String group, ControlApi api) throws IOException {
        if (!path.isAbsolute()) {
            throw new IOException("--control " + path + " is relative; give an absolute path");
        }
        Path dir = path.getParent();
        if (dir == null || !Files.isDirectory(dir)) {
            throw new IOException("cannot create control socket " + path + ": directory " + dir + " does not exist");
        }
        removeStale(path);
        GroupPrincipal principal = null;
        if (group != null) {
            try {
                principal = path.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByGroupName(group);
            } catch (IOException e) {
                throw new IOException("--control-group " + group + ": no such group (" + e.getMessage() + ")");
            }
        }
        Path tmp = dir.resolve("." + path.getFileName() + "." + ProcessHandle.current().pid() + ".tmp");
        Files.deleteIfExists(tmp);
        ServerSocketChannel ch = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            ch.bind(UnixDomainSocketAddress.of(tmp));
            Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString(principal == null ? "rw-------" : "rw-rw----"));
            if (principal != null) {
                Files.getFileAttributeView(tmp, PosixFileAttributeView.class, LinkOption.NOFOLLOW_LINKS).setGroup(principal);
            }
            Files.move(tmp, path, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException | RuntimeException e) {
            ch.close();
            Files.deleteIfExists(tmp);
            throw new IOException("cannot create control socket " + path + ": " + e.getMessage(), e);
        }
        LOG.log(Level.INFO, "control API (JSON-RPC 2.0, one request per line) on " + path
                + (principal == null ? " (mode 0600)" : " (mode 0660, group " + group + ")"));
        return new ControlServer(api, path, ch);
    }

    public Path path() {
        return path;
    }

    private void acceptLoop() {
        while (!closed) {
            SocketChannel client;
            try {
                client = server.accept();
            } catch (ClosedChannelException e) {
                break;
            } catch (IOException e) {
                if (closed) {
                    break;
                }
                LOG.log(Level.WARNING, "control socket: accept failed: " + e.getMessage() + "; retrying");
                pause();
                continue;
            }
            clients.add(client);
            Thread.ofVirtual().name("vhostd-control-client").start(() -> serve(client));
        }
    }

    private void serve(SocketChannel client) {
        try (client) {
            ByteBuffer in = ByteBuffer.allocate(64 * 1024);
            LineBuffer line = new LineBuffer(MAX_REQUEST_BYTES);
            while (!closed) {
                in.clear();
                if (client.read(in) < 0) {
                    return;
                }
                in.flip();
                while (in.hasRemaining()) {
                    byte[] request = line.take(in);
                    if (request == LineBuffer.TOO_LONG) {
                        write(client, error(NullNode.getInstance(), new RpcError(RpcError.INVALID_REQUEST,
                                "request larger than " + MAX_REQUEST_BYTES + " bytes (1 MiB) without a newline;"
                                        + " send one request per line; closing the connection")));
                        return;
                    }
                    if (request != null) {
                        byte[] response = handle(request);
                        if (response != null) {
                            write(client, response);
                        }
                    }
                }
            }
        } catch (IOException e) {
            if (!closed) {
                LOG.log(Level.DEBUG, () -> "control client went away: " + e.getMessage());
            }
        } finally {
            clients.remove(client);
        }
    }

    /** Answers one request line; null for a notification (no id), which gets no response. */
    byte[] handle(byte[] line) {
        if (isBlank(line)) {
            return null;
        }
        JsonNode request;
        try {
            request = json.readTree(line);
        } catch (JacksonException e) {
            return error(NullNode.getInstance(), new RpcError(RpcError.PARSE_ERROR, "request is not valid JSON: "
                    + e.getOriginalMessage() + "; send one JSON-RPC 2.0 object per line"));
        } catch (IOException e) {
            throw new IllegalStateException("reading JSON from memory failed", e);
        }
        if (request == null || !request.isObject()) {
            String what = request != null && request.isArray() ? "batch requests are not supported" : "a request must be a JSON object";
            return error(NullNode.getInstance(), new RpcError(RpcError.INVALID_REQUEST, what
                    + "; send one {\"jsonrpc\":\"2.0\",\"id\":1,\"method\":...} object per line"));
        }
        JsonNode id = request.get("id");
        boolean notification = id == null;
        if (id != null && !(id.isTextual() || id.isIntegralNumber() || id.isNull())) {
            return error(NullNode.getInstance(), new RpcError(RpcError.INVALID_REQUEST, "id must be a string, an integer or null"));
        }
        JsonNode replyId = id == null ? NullNode.getInstance() : id;
        JsonNode version = request.get("jsonrpc");
        if (version == null || !version.isTextual() || !version.asText().equals("2.0")) {
            return error(replyId, new RpcError(RpcError.INVALID_REQUEST, "\"jsonrpc\": \"2.0\" is required"));
        }
        JsonNode method = request.get("method");
        if (method == null || !method.isTextual()) {
            return error(replyId, new RpcError(RpcError.INVALID_REQUEST, "\"method\" (a string) is required; methods: "
                    + String.join(", ", api.methodNames())));
        }
        try {
            Object result = api.call(method.asText(), request.get("params"));
            if (notification) {
                return null;
            }
            ObjectNode r = json.createObjectNode();
            r.put("jsonrpc", "2.0");
            r.set("id", replyId);
            r.set("result", json.valueToTree(result));
            return json.writeValueAsBytes(r);
        } catch (RpcError.Failure f) {
            if (!notification) {
                return error(replyId, f.error());
            }
            return null;
        } catch (JacksonException | IllegalArgumentException e) {
            LOG.log(Level.ERROR, "control method " + method.asText() + ": cannot encode the result", e);
            return error(replyId, new RpcError(RpcError.INTERNAL_ERROR, "cannot encode the result: " + e.getMessage()));
        }
    }

    private byte[] error(JsonNode id, RpcError e) {
        ObjectNode r = json.createObjectNode();
        r.put("jsonrpc", "2.0");
        r.set("id", id);
        ObjectNode err = r.putObject("error");
        err.put("code", e.code());
        err.put("message", e.message());
        try {
            return json.writeValueAsBytes(r);
        } catch (JacksonException x) {
            throw new IllegalStateException("cannot encode an error response", x);
        }
    }

    private static void write(SocketChannel client, byte[] response) throws IOException {
        ByteBuffer out = ByteBuffer.allocate(response.length + 1);
        out.put(response).put((byte) '\n').flip();
        while (out.hasRemaining()) {
            client.write(out);
        }
    }

    private static boolean isBlank(byte[] line) {
        for (byte b : line) {
            if (b != ' ' && b != '\t' && b != '\r') {
                return false;
            }
        }
        return true;
    }

    private static void removeStale(Path p) throws IOException {
        if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        int mode;
        try {
            mode = (Integer) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
            return;
        }
        if ((mode & 0170000) != 0140000) {
            throw new IOException("cannot create control socket " + p + ": a file that is not a socket exists there;"
                    + " remove it or choose another --control");
        }
        try (SocketChannel probe = SocketChannel.open(UnixDomainSocketAddress.of(p))) {
            throw new IOException("control socket " + p + " is in use by another process; stop it or choose another --control");
        } catch (java.net.ConnectException e) {
            Files.deleteIfExists(p); // nobody listens: a leftover of a daemon that was killed
        }
    }

    private static void pause() {
        try {
            Thread.sleep(100);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Stops answering, disconnects clients and removes the socket file. */
    @Override
    public void close() {
        closed = true;
        try {
            server.close();
        } catch (IOException e) {
            LOG.log(Level.WARNING, "closing the control socket failed: " + e.getMessage());
        }
        for (SocketChannel c : clients) {
            try {
                c.close();
            } catch (IOException e) {
                // it is going away either way
            }
        }
        try {
            Files.deleteIfExists(path);
        } catch (IOException e) {
            LOG.log(Level.WARNING, "cannot remove control socket " + path + ": " + e.getMessage());
        }
        try {
            acceptThread.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
