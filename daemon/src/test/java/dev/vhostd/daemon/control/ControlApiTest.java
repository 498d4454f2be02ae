package dev.vhostd.daemon.control;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.vhostd.daemon.serve.VhostdProcess;
import dev.vhostd.protocol.frontend.BlockIo;
import dev.vhostd.protocol.frontend.VhostUserBlkFrontend;

/**
 * The control API and {@code vhostd ctl} end to end against a running daemon process: every method,
 * every kind of bad input, and what each leaves behind (nothing, on failure).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ControlApiTest {
    private Path dir;
    private Path control;
    private VhostdProcess daemon;

    @BeforeAll
    void start() throws IOException {
        dir = Files.createTempDirectory("vhostd-ctl");
        control = dir.resolve("control.sock");
        daemon = VhostdProcess.start(control, dir.resolve("vhostd.log"), "--control", control.toString(), "--pollers", "2");
    }

    @AfterAll
    void stop() throws Exception {
        if (daemon != null) {
            assertEquals(0, daemon.terminate(Duration.ofSeconds(60)), daemon.log());
            assertFalse(Files.exists(control), "control socket removed on exit");
        }
    }

    private RpcConnection rpc() throws IOException {
        return new RpcConnection(control);
    }

    private static int code(JsonNode response) {
        assertNotNull(response.get("error"), "expected an error, got " + response);
        return response.get("error").get("code").asInt();
    }

    private static String message(JsonNode response) {
        return response.get("error").get("message").asText();
    }

    private String addParams(String name, String socket, String backend) {
        return "{\"name\":\"" + name + "\",\"socket\":\"" + socket + "\",\"backend\":\"" + backend + "\"}";
    }

    @Test
    void controlSocketIsOwnerOnly() throws IOException {
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(control, LinkOption.NOFOLLOW_LINKS)));
    }

    @Test
    void addGetListRemove() throws IOException {
        Path sock = dir.resolve("a1.sock");
        try (RpcConnection c = rpc()) {
            JsonNode added = c.call("disk_add", "{\"name\":\"a1\",\"socket\":\"" + sock + "\",\"backend\":\"memory:8M\","
                    + "\"queues\":2,\"queue_size\":256,\"serial\":\"SER1\",\"read_only\":true}");
            assertNull(added.get("error"), added.toString());
            assertEquals(7, added.get("id").asInt());
            JsonNode d = added.get("result");
            assertEquals("a1", d.get("name").asText());
            assertEquals(8L << 20, d.get("size").asLong());
            assertTrue(d.get("read_only").asBoolean());
            assertFalse(d.get("connected").asBoolean());
            assertEquals(2, d.get("queues").size());
            assertEquals("rw-rw----", PosixFilePermissions.toString(Files.getPosixFilePermissions(sock, LinkOption.NOFOLLOW_LINKS)));

            JsonNode got = c.call("disk_get", "{\"name\":\"a1\"}").get("result");
            assertEquals(sock.toString(), got.get("socket").asText());
            assertEquals("memory:8M", got.get("backend").asText());
            assertEquals(0, got.get("limits").get("iops").asLong());

            JsonNode list = c.call("disk_list", null).get("result");
            assertTrue(names(list).contains("a1"), list.toString());

            JsonNode daemonInfo = c.call("daemon_get", "{}").get("result");
            assertEquals(2, daemonInfo.get("pollers").asInt());
            assertEquals(daemon.pid(), daemonInfo.get("pid").asLong());
            assertTrue(daemonInfo.get("disks").asInt() >= 1);

            JsonNode removed = c.call("disk_remove", "{\"name\":\"a1\"}");
            assertNull(removed.get("error"), removed.toString());
            assertFalse(Files.exists(sock), "socket file removed with the disk");
            assertEquals(-32001, code(c.call("disk_get", "{\"name\":\"a1\"}")));
        }
    }

    @Test
    void setLimitsKeepsWhatIsNotGiven() throws IOException {
        try (RpcConnection c = rpc()) {
            assertNull(c.call("disk_add", addParams("lim", dir.resolve("lim.sock").toString(), "null:1G")).get("error"));
            JsonNode r = c.call("disk_set_limits", "{\"name\":\"lim\",\"iops\":5000,\"write_bps\":1048576}").get("result");
            assertEquals(5000, r.get("limits").get("iops").asLong());
            r = c.call("disk_set_limits", "{\"name\":\"lim\",\"iops\":0}").get("result");
            assertEquals(0, r.get("limits").get("iops").asLong());
            assertEquals(1048576, r.get("limits").get("write_bps").asLong());
            assertEquals(-32602, code(c.call("disk_set_limits", "{\"name\":\"lim\",\"iops\":-1}")));
            assertEquals(-32602, code(c.call("disk_set_limits", "{\"name\":\"lim\",\"iopz\":1}")));
            assertNull(c.call("disk_remove", "{\"name\":\"lim\"}").get("error"));
        }
    }

    @Test
    void malformedJsonIsAParseErrorAndTheConnectionStaysUsable() throws IOException {
        try (RpcConnection c = rpc()) {
            c.send("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\n");
            JsonNode r = c.receive();
            assertEquals(-32700, code(r));
            assertTrue(r.get("id").isNull());
            c.send("[1,2]\n");
            assertEquals(-32600, code(c.receive()));
            c.send("{\"id\":3,\"method\":\"disk_list\"}\n");
            assertEquals(-32600, code(c.receive()), "jsonrpc 2.0 is required");
            JsonNode ok = c.call("disk_list", "{}");
            assertNotNull(ok.get("result"), ok.toString());
        }
    }

    @Test
    void unknownMethodAndUnknownParameter() throws IOException {
        try (RpcConnection c = rpc()) {
            JsonNode r = c.call("disk_frobnicate", "{}");
            assertEquals(-32601, code(r));
            assertTrue(message(r).contains("disk_add"), "lists the methods: " + message(r));
            r = c.call("disk_list", "{\"verbose\":true}");
            assertEquals(-32602, code(r));
            assertTrue(message(r).contains("verbose"), message(r));
            r = c.call("disk_add", "{\"name\":\"u1\",\"socket\":\"" + dir.resolve("u1.sock") + "\",\"backend\":\"null:1G\",\"colour\":\"red\"}");
            assertEquals(-32602, code(r));
            assertTrue(message(r).contains("colour") && message(r).contains("queue_size"), message(r));
            assertFalse(Files.exists(dir.resolve("u1.sock")));
            r = c.call("disk_add", "{\"name\":\"u1\",\"socket\":\"" + dir.resolve("u1.sock") + "\",\"backend\":\"null:1G\",\"queues\":\"two\"}");
            assertEquals(-32602, code(r));
            assertTrue(message(r).contains("queues"), message(r));
            assertEquals(-32602, code(c.call("disk_get", "[\"u1\"]")), "positional params are refused");
        }
    }

    @Test
    void requestOverOneMebibyteIsRefused() throws IOException {
        try (RpcConnection c = rpc()) {
            byte[] big = new byte[(1 << 20) + 100];
            Arrays.fill(big, (byte) ' ');
            byte[] head = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"disk_list\",\"params\":{},\"pad\":\"".getBytes(StandardCharsets.US_ASCII);
            System.arraycopy(head, 0, big, 0, head.length);
            big[big.length - 1] = '\n';
            try {
                c.send(big);
            } catch (IOException e) {
                // the daemon may close before we finish writing; its answer is still readable
            }
            JsonNode r = c.receive();
            assertEquals(-32600, code(r));
            assertTrue(message(r).contains("1 MiB"), message(r));
        }
        try (RpcConnection c = rpc()) {
            assertNotNull(c.call("disk_list", null).get("result"), "the daemon still serves others");
        }
    }

    @Test
    void badDiskParametersLeaveNothingBehind() throws IOException {
        try (RpcConnection c = rpc()) {
            Path sock = dir.resolve("b1.sock");
            JsonNode r = c.call("disk_add", addParams("bad name", sock.toString(), "null:1G"));
            assertEquals(-32602, code(r));
            assertTrue(message(r).contains("A-Z"), message(r));
            r = c.call("disk_add", addParams("x".repeat(65), sock.toString(), "null:1G"));
            assertEquals(-32602, code(r));
            r = c.call("disk_add", addParams("b1", "relative/b1.sock", "null:1G"));
            assertEquals(-32602, code(r));
            assertTrue(message(r).contains("absolute"), message(r));
            r = c.call("disk_add", addParams("b1", "/" + "d".repeat(120) + ".sock", "null:1G"));
            assertEquals(-32602, code(r));
            r = c.call("disk_add", addParams("b1", dir.resolve("missing-dir/b1.sock").toString(), "null:1G"));
            assertEquals(-32005, code(r));
            assertTrue(message(r).contains("does not exist"), message(r));
            r = c.call("disk_add", addParams("b1", sock.toString(), "file:" + dir.resolve("no-such.img")));
            assertEquals(-32004, code(r));
            assertTrue(message(r).contains("no-such.img"), message(r));
            assertFalse(Files.exists(sock), "no socket file after a backend that cannot open");
            r = c.call("disk_add", addParams("b1", sock.toString(), "tape:/dev/st0"));
            assertEquals(-32004, code(r));
            r = c.call("disk_add", "{\"name\":\"b1\",\"socket\":\"" + sock + "\",\"backend\":\"null:1G\",\"queue_size\":100}");
            assertEquals(-32602, code(r));
            assertTrue(message(r).contains("queue_size"), message(r));
            r = c.call("disk_add", "{\"name\":\"b1\",\"socket\":\"" + sock + "\",\"backend\":\"null:1G\",\"logical_block_size\":1000}");
            assertEquals(-32602, code(r));
            r = c.call("disk_add", "{\"name\":\"b1\",\"backend\":\"null:1G\"}");
            assertEquals(-32602, code(r));
            assertTrue(message(r).contains("socket"), message(r));
            assertFalse(Files.exists(sock));
            assertEquals(-32001, code(c.call("disk_get", "{\"name\":\"b1\"}")), "no half-created disk");
        }
    }

    @Test
    void duplicateNameOrSocketIsRefused() throws IOException {
        try (RpcConnection c = rpc()) {
            Path sock = dir.resolve("d1.sock");
            assertNull(c.call("disk_add", addParams("d1", sock.toString(), "null:1G")).get("error"));
            JsonNode r = c.call("disk_add", addParams("d1", dir.resolve("other.sock").toString(), "null:1G"));
            assertEquals(-32002, code(r));
            assertFalse(Files.exists(dir.resolve("other.sock")));
            // The same socket spelled differently is the same socket.
            r = c.call("disk_add", addParams("d2", dir + "/./d1.sock", "null:1G"));
            assertEquals(-32002, code(r));
            assertTrue(message(r).contains("d1"), message(r));
            assertTrue(Files.exists(sock), "the first disk's socket is untouched");
            assertNull(c.call("disk_remove", "{\"name\":\"d1\"}").get("error"));
        }
    }

    @Test
    void removeIsRefusedWhileAFrontEndIsAttachedUnlessForced() throws Exception {
        Path sock = dir.resolve("f1.sock");
        try (RpcConnection c = rpc()) {
            assertNull(c.call("disk_add", addParams("f1", sock.toString(), "memory:4M")).get("error"));
            VhostUserBlkFrontend fe = VhostUserBlkFrontend.open(sock, new VhostUserBlkFrontend.Options(1, 64, true, 1 << 20));
            try (BlockIo io = new BlockIo(fe, 0, 4096)) {
                io.data().fill((byte) 0x5a);
                assertEquals(0, io.write(8, 4096));
                JsonNode got = c.call("disk_get", "{\"name\":\"f1\"}").get("result");
                assertTrue(got.get("connected").asBoolean(), got.toString());
                assertEquals(ProcessHandle.current().pid(), got.get("frontend_pid").asLong());
                assertTrue(names(got.get("features")).contains("VERSION_1"), got.toString());
                assertEquals(64, got.get("queues").get(0).get("size").asInt());
                assertTrue(got.get("queues").get(0).get("running").asBoolean());

                JsonNode r = c.call("disk_remove", "{\"name\":\"f1\"}");
                assertEquals(-32003, code(r));
                assertTrue(message(r).contains("force"), message(r));
                assertTrue(Files.exists(sock));

                r = c.call("disk_remove", "{\"name\":\"f1\",\"force\":true}");
                assertNull(r.get("error"), r.toString());
                assertFalse(Files.exists(sock), "socket file removed");
                assertEquals(-32001, code(c.call("disk_get", "{\"name\":\"f1\"}")));
            } finally {
                try {
                    fe.close();
                } catch (IOException expected) {
                    // the daemon already hung up
                }
            }
            // The name and the socket are free again.
            assertNull(c.call("disk_add", addParams("f1", sock.toString(), "memory:4M")).get("error"));
            assertNull(c.call("disk_remove", "{\"name\":\"f1\"}").get("error"));
        }
    }

    @Test
    void resizeParametersAreChecked() throws IOException {
        try (RpcConnection c = rpc()) {
            assertNull(c.call("disk_add", addParams("r1", dir.resolve("r1.sock").toString(), "null:1G")).get("error"));
            assertEquals(-32602, code(c.call("disk_resize", "{\"name\":\"r1\",\"size\":-5}")));
            assertEquals(-32602, code(c.call("disk_resize", "{\"name\":\"r1\",\"size\":\"1G\"}")));
            assertEquals(-32602, code(c.call("disk_resize", "{\"name\":\"r1\",\"grow\":true}")));
            assertEquals(-32001, code(c.call("disk_resize", "{\"name\":\"nope\"}")));
            assertNull(c.call("disk_remove", "{\"name\":\"r1\"}").get("error"));
        }
    }

    @Test
    void socatOneLiner() throws Exception {
        Process p = new ProcessBuilder("socat", "-", "UNIX-CONNECT:" + control).redirectErrorStream(true).start();
        p.getOutputStream().write("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"disk_list\"}\n".getBytes(StandardCharsets.UTF_8));
        p.getOutputStream().close();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        JsonNode r = new ObjectMapper().readTree(out);
        assertEquals("2.0", r.get("jsonrpc").asText());
        assertTrue(r.get("result").isArray(), out);
    }

    @Test
    void ctlCommandLine() throws Exception {
        Path sock = dir.resolve("c1.sock");
        Result add = ctl("disk", "add", "c1", "--socket", sock.toString(), "--backend", "null:2G", "--queues", "2");
        assertEquals(0, add.code, add.all());
        assertTrue(add.out.contains("name:       c1"), add.out);
        Result list = ctl("disk", "list");
        assertEquals(0, list.code, list.all());
        assertTrue(list.out.lines().anyMatch(l -> l.startsWith("c1 ") && l.contains("2 GiB") && l.contains(sock.toString())), list.out);
        Result json = ctl("--json", "disk", "show", "c1");
        assertEquals(0, json.code, json.all());
        assertEquals(2L << 30, new ObjectMapper().readTree(json.out).get("size").asLong());
        Result jsonAfter = ctl("disk", "list", "--json");
        assertEquals(0, jsonAfter.code, jsonAfter.all());
        assertTrue(new ObjectMapper().readTree(jsonAfter.out).isArray());
        Result limit = ctl("disk", "limit", "c1", "--iops", "700", "--bps", "10M");
        assertEquals(0, limit.code, limit.all());
        assertTrue(limit.out.contains("iops=700") && limit.out.contains("bps=10485760"), limit.out);
        Result status = ctl("status");
        assertEquals(0, status.code, status.all());
        assertTrue(status.out.contains("poller(s)"), status.out);
        Result dup = ctl("disk", "add", "c1", "--socket", dir.resolve("c2.sock").toString(), "--backend", "null:1G");
        assertEquals(1, dup.code, dup.all());
        assertTrue(dup.err.contains("already exists") && dup.err.contains("-32002"), dup.err);
        Result missing = ctl("disk", "show", "nope");
        assertEquals(1, missing.code);
        assertTrue(missing.err.contains("no disk named nope"), missing.err);
        Result remove = ctl("disk", "remove", "c1");
        assertEquals(0, remove.code, remove.all());
        Result noDaemon = ctlAt(dir.resolve("nothing.sock"), "status");
        assertEquals(1, noDaemon.code);
        assertTrue(noDaemon.err.contains("cannot reach"), noDaemon.err);
    }

    record Result(int code, String out, String err) {
        String all() {
            return "exit " + code + "\nstdout:\n" + out + "\nstderr:\n" + err;
        }
    }

    private Result ctl(String... args) throws Exception {
        return ctlAt(control, args);
    }

    static Result ctlAt(Path control, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(VhostdProcess.command());
        cmd.add("ctl");
        cmd.add("--control");
        cmd.add(control.toString());
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        return new Result(p.exitValue(), out, err);
    }

    static List<String> names(JsonNode array) {
        List<String> out = new ArrayList<>();
        for (JsonNode n : array) {
            out.add(n.isObject() ? n.get("name").asText() : n.asText());
        }
        return out;
    }
}
