package dev.vhostd.daemon.control;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.JsonNode;

import dev.vhostd.daemon.serve.VhostdProcess;
import dev.vhostd.protocol.frontend.BlockIo;
import dev.vhostd.protocol.frontend.VhostUserBlkFrontend;

/**
 * config_save, stop, start with --config: the same disks come back on the same sockets with the
 * same options, and the data written before the restart is there.
 */
class ConfigRestartTest {
    @Test
    void savedConfigRecreatesTheDisks() throws Exception {
        Path dir = Files.createTempDirectory("vhostd-restart");
        Path control = dir.resolve("control.sock");
        Path config = dir.resolve("vhostd.json");
        Path imgA = dir.resolve("a.img");
        Path imgB = dir.resolve("b.img");
        Files.write(imgA, new byte[4 << 20]);
        Files.write(imgB, new byte[8 << 20]);
        Path sockA = dir.resolve("a.sock");
        Path sockB = dir.resolve("b.sock");
        JsonNode before;
        try (VhostdProcess daemon = VhostdProcess.start(control, dir.resolve("first.log"), "--control", control.toString())) {
            try (RpcConnection c = new RpcConnection(control)) {
                assertNull(c.call("disk_add", "{\"name\":\"a\",\"socket\":\"" + sockA + "\",\"backend\":\"file:" + imgA
                        + "\",\"queues\":2,\"serial\":\"A-1\"}").get("error"));
                assertNull(c.call("disk_add", "{\"name\":\"b\",\"socket\":\"" + sockB + "\",\"backend\":\"file:" + imgB
                        + "\",\"read_only\":true,\"queue_size\":128,\"aio\":\"sync\"}").get("error"));
                writeMarker(sockA, 0x1234abcd);
                // The daemon sees the front-end leave a moment after it closed its socket.
                long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
                while (c.call("disk_get", "{\"name\":\"a\"}").get("result").get("connected").asBoolean()
                        && System.nanoTime() < deadline) {
                    Thread.sleep(50);
                }
                before = c.call("disk_list", null).get("result");
                JsonNode saved = c.call("config_save", "{\"path\":\"" + config + "\"}");
                assertEquals(2, saved.get("result").get("disks").asInt(), saved.toString());
                assertEquals(-32602, c.call("config_save", "{\"path\":\"relative.json\"}").get("error").get("code").asInt());
                assertEquals(-32007, c.call("config_save", "{\"path\":\"" + dir.resolve("no/such/dir.json") + "\"}")
                        .get("error").get("code").asInt());
            }
            assertEquals(0, daemon.terminate(Duration.ofSeconds(60)), daemon.log());
        }
        assertFalse(Files.exists(sockA), "sockets removed on exit");
        assertFalse(Files.exists(sockB));
        try (VhostdProcess daemon = VhostdProcess.start(control, dir.resolve("second.log"), "--control", control.toString(),
                "--config", config.toString())) {
            assertTrue(Files.exists(sockA) && Files.exists(sockB));
            try (RpcConnection c = new RpcConnection(control)) {
                JsonNode after = c.call("disk_list", null).get("result");
                assertEquals(before, after, "same disks, sockets, backends, sizes and options");
            }
            assertEquals(0x1234abcd, readMarker(sockA));
            assertEquals(0, daemon.terminate(Duration.ofSeconds(60)), daemon.log());
        }
        String saved = Files.readString(config);
        for (String field : List.of("\"queues\"", "\"queue_size\"", "\"read_only\"", "\"serial\"", "\"aio\"", "\"direct\"",
                "\"logical_block_size\"")) {
            assertTrue(saved.contains(field), "the saved file states " + field + " explicitly:\n" + saved);
        }
    }

    @Test
    void aBadConfigFileIsOneClearError() throws Exception {
        Path dir = Files.createTempDirectory("vhostd-badcfg");
        Path config = dir.resolve("bad.json");
        Files.writeString(config, "{\"disks\": [{\"name\": \"x\", \"socket\": \"" + dir.resolve("x.sock")
                + "\", \"backend\": \"null:1G\", \"queus\": 2}]}");
        List<String> cmd = new java.util.ArrayList<>(VhostdProcess.command());
        cmd.addAll(List.of("serve", "--config", config.toString()));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(1, p.waitFor());
        assertTrue(out.contains(config.toString()) && out.contains("queus"), out);
        assertFalse(Files.exists(dir.resolve("x.sock")));
    }

    private static void writeMarker(Path sock, int value) throws Exception {
        try (VhostUserBlkFrontend fe = VhostUserBlkFrontend.open(sock, new VhostUserBlkFrontend.Options(1, 64, true, 1 << 20));
                BlockIo io = new BlockIo(fe, 0, 4096)) {
            io.data().set(ValueLayout.JAVA_INT, 0, value);
            assertEquals(0, io.write(16, 4096));
            assertEquals(0, io.flush());
        }
    }

    private static int readMarker(Path sock) throws Exception {
        try (VhostUserBlkFrontend fe = VhostUserBlkFrontend.open(sock, new VhostUserBlkFrontend.Options(1, 64, true, 1 << 20));
                BlockIo io = new BlockIo(fe, 0, 4096)) {
            assertEquals(0, io.read(16, 4096));
            return io.data().get(ValueLayout.JAVA_INT, 0);
        }
    }
}
