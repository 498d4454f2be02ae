package dev.vhostd.daemon.systemd;

import dev.vhostd.daemon.testing.Json;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** share/qemu/vhost-user/50-vhostd.json against QEMU's vhost-user.json schema and the packaging. */
class QemuDiscoveryFileTest {
    private final Path repo = RepoFiles.root();

    @Test
    void discoveryFileMatchesTheSchema() throws Exception {
        Object doc = Json.parse(Files.readString(repo.resolve("share/qemu/vhost-user/50-vhostd.json")));
        assertEquals(List.of(), VhostUserSchema.checkBackend(doc));
        Map<?, ?> m = (Map<?, ?>) doc;
        assertEquals("block", m.get("type"));
    }

    @Test
    void binaryIsTheWrapperThePackageInstalls() throws Exception {
        Map<?, ?> m = (Map<?, ?>) Json.parse(
                Files.readString(repo.resolve("share/qemu/vhost-user/50-vhostd.json")));
        String binary = (String) m.get("binary");
        String dockerfile = Files.readString(repo.resolve("Dockerfile"));
        assertTrue(dockerfile.contains("COPY packaging/vhost-user-blk " + binary), dockerfile);
        Path wrapper = repo.resolve("packaging/vhost-user-blk");
        assertTrue(Files.isExecutable(wrapper));
        // Management software calls the binary with bare options; the wrapper adds the verb.
        assertTrue(Files.readString(wrapper).contains("exec /usr/bin/vhostd serve \"$@\""));
    }

    @Test
    void schemaCheckRejectsWhatQemuWould() {
        assertFalse(VhostUserSchema.checkBackend(Json.parse(
                "{\"description\":\"x\",\"type\":\"blk\",\"binary\":\"/usr/bin/x\"}")).isEmpty(), "bad type");
        assertFalse(VhostUserSchema.checkBackend(Json.parse(
                "{\"description\":\"x\",\"type\":\"block\",\"binary\":\"x\"}")).isEmpty(), "relative binary");
        assertFalse(VhostUserSchema.checkBackend(Json.parse(
                "{\"type\":\"block\",\"binary\":\"/x\"}")).isEmpty(), "no description");
        assertFalse(VhostUserSchema.checkBackend(Json.parse(
                "{\"description\":\"x\",\"type\":\"block\",\"binary\":\"/x\",\"features\":[]}")).isEmpty(),
                "features belong to --print-capabilities, not the discovery file");
        assertFalse(VhostUserSchema.checkBackend(Json.parse(
                "{\"description\":\"x\",\"type\":\"block\",\"binary\":\"/x\",\"tags\":[1]}")).isEmpty(), "tag");
        assertThrows(IllegalArgumentException.class, () -> Json.parse("{\"a\":1,\"a\":2}"));
        assertThrows(IllegalArgumentException.class, () -> Json.parse("{\"a\":1} x"));
        assertThrows(IllegalArgumentException.class, () -> Json.parse("{\"a\":1,}"));
    }

    /** What `vhostd serve --print-capabilities` must print (exact text given to the lead). */
    static final String CAPABILITIES = "{\"type\": \"block\", \"features\": [\"read-only\", \"blk-file\"]}";

    @Test
    void capabilitiesCheck() {
        assertEquals(List.of(), VhostUserSchema.checkBlockCapabilities(Json.parse(CAPABILITIES)));
        assertEquals(List.of(), VhostUserSchema.checkBlockCapabilities(
                Json.parse("{\"type\":\"block\",\"features\":[]}")));
        assertFalse(VhostUserSchema.checkBlockCapabilities(
                Json.parse("{\"type\":\"block\",\"features\":[\"readonly\"]}")).isEmpty());
        assertFalse(VhostUserSchema.checkBlockCapabilities(
                Json.parse("{\"type\":\"block\",\"features\":[\"read-only\",\"read-only\"]}")).isEmpty());
        assertFalse(VhostUserSchema.checkBlockCapabilities(
                Json.parse("{\"type\":\"gpu\",\"features\":[]}")).isEmpty());
        assertFalse(VhostUserSchema.checkBlockCapabilities(Json.parse("{\"type\":\"block\"}")).isEmpty());
    }
}
