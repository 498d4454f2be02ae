package dev.vhostd.daemon.systemd;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Checks the committed systemd files with systemd's own tools against a scratch root: the units
 * with `systemd-analyze verify` (zero warnings about them) and `security --offline`, sysusers.d and
 * tmpfiles.d by applying them to that root and reading back users, modes and owners.
 */
class UnitFilesTest {
    @TempDir
    Path root;
    private Path repo;

    @BeforeEach
    void buildRoot() throws IOException {
        repo = RepoFiles.root();
        // verify resolves every unit (sysinit.target, sockets.target, ...) inside --root: give it the
        // host's stock units, and ours where an administrator's package would put them.
        copyTree(Path.of("/usr/lib/systemd/system"), root.resolve("usr/lib/systemd/system"));
        Path units = Files.createDirectories(root.resolve("etc/systemd/system"));
        Files.copy(repo.resolve("systemd/vhostd@.service"), units.resolve("vhostd@.service"));
        Files.copy(repo.resolve("systemd/vhostd@.socket"), units.resolve("vhostd@.socket"));
        // ExecStart= must name an executable inside the root; the launcher's content is not what
        // is verified here.
        Path bin = Files.createDirectories(root.resolve("usr/bin")).resolve("vhostd");
        Files.copy(repo.resolve("packaging/vhostd"), bin);
        Files.setPosixFilePermissions(bin, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.createDirectories(root.resolve("etc/vhostd"));
        Files.copy(repo.resolve("systemd/examples/example.conf"), root.resolve("etc/vhostd/disk1.conf"));
    }

    @Test
    void unitsVerifyWithoutWarnings() throws Exception {
        Command c = Command.run(List.of("systemd-analyze", "verify", "--root=" + root,
                "vhostd@disk1.service", "vhostd@disk1.socket"));
        assertEquals(0, c.exitCode(), c::toString);
        List<String> ours = c.output().lines().filter(l -> l.contains("vhostd")).toList();
        assertEquals(List.of(), ours, c::toString);
    }

    @Test
    void verifyCatchesAMissingBinary() throws Exception {
        // Proves the check above has teeth: the same run fails once ExecStart= names nothing.
        Files.delete(root.resolve("usr/bin/vhostd"));
        Command c = Command.run(List.of("systemd-analyze", "verify", "--root=" + root, "vhostd@disk1.service"));
        assertTrue(c.exitCode() != 0 && c.output().contains("/usr/bin/vhostd"), c::toString);
    }

    @Test
    void sandboxExposureStaysLow() throws Exception {
        // systemd's own scoring, 0 (locked down) to 10 (unprotected); 1.2 when this was written.
        Command c = Command.run(List.of("systemd-analyze", "security", "--offline=yes", "--root=" + root,
                "--threshold=20", "vhostd@disk1.service"));
        assertEquals(0, c.exitCode(), c::toString);
        assertTrue(c.output().contains("Overall exposure level for vhostd@disk1.service"), c::toString);
        // The deliberate exceptions, each explained in the unit.
        assertTrue(c.output().contains("✗ MemoryDenyWriteExecute="), c::toString);
        assertTrue(c.output().contains("✓ RestrictAddressFamilies=~AF_(INET|INET6)"), c::toString);
        assertTrue(c.output().contains("✓ CapabilityBoundingSet=~CAP_SYS_ADMIN"), c::toString);
    }

    @Test
    void socketUnitOwnsThePathWithClientGroup() throws Exception {
        String socket = Files.readString(repo.resolve("systemd/vhostd@.socket"));
        assertTrue(socket.contains("\nListenStream=/run/vhostd/%i.sock\n"));
        assertTrue(socket.contains("\nFileDescriptorName=vhostd\n"));
        assertTrue(socket.contains("\nAccept=no\n"));
        assertTrue(socket.contains("\nSocketGroup=vhostd-clients\n"));
        assertTrue(socket.contains("\nSocketMode=0660\n"));
        String service = Files.readString(repo.resolve("systemd/vhostd@.service"));
        // The service adopts the socket instead of binding one: no --socket in ExecStart.
        String exec = service.lines().filter(l -> l.startsWith("ExecStart=")).findFirst().orElseThrow();
        assertTrue(exec.contains("--fd 3") && !exec.contains("--socket"), exec);
    }

    @Test
    void sysusersAndTmpfilesCreateUserGroupAndDirectories() throws Exception {
        Files.createDirectories(root.resolve("etc"));
        Path sysusers = Files.createDirectories(root.resolve("usr/lib/sysusers.d"));
        Files.copy(repo.resolve("systemd/sysusers.d/vhostd.conf"), sysusers.resolve("vhostd.conf"));
        Path tmpfiles = Files.createDirectories(root.resolve("usr/lib/tmpfiles.d"));
        Files.copy(repo.resolve("systemd/tmpfiles.d/vhostd.conf"), tmpfiles.resolve("vhostd.conf"));

        Command users = Command.run(List.of("systemd-sysusers", "--root=" + root, "vhostd.conf"));
        assertEquals(0, users.exitCode(), users::toString);
        String passwd = Files.readString(root.resolve("etc/passwd"));
        String group = Files.readString(root.resolve("etc/group"));
        String[] user = field(passwd, "vhostd");
        String[] clients = field(group, "vhostd-clients");
        String[] own = field(group, "vhostd");
        assertEquals(own[2], user[3], "vhostd's primary group");
        assertEquals("/usr/sbin/nologin", user[6]);

        Command dirs = Command.run(List.of("systemd-tmpfiles", "--root=" + root, "--create", "vhostd.conf"));
        assertEquals(0, dirs.exitCode(), dirs::toString);
        assertOwner(root.resolve("run/vhostd"), "rwxr-x---", user[2], clients[2]);
        assertOwner(root.resolve("var/lib/vhostd"), "rwxr-x---", user[2], own[2]);
    }

    private static String[] field(String file, String name) {
        return file.lines().map(l -> l.split(":", -1)).filter(f -> f[0].equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError(name + " missing from\n" + file));
    }

    private static void assertOwner(Path dir, String mode, String uid, String gid) throws IOException {
        assertTrue(Files.isDirectory(dir), dir + " not created");
        assertEquals(mode, PosixFilePermissions.toString(Files.getPosixFilePermissions(dir)), dir.toString());
        assertEquals(Integer.parseInt(uid), Files.getAttribute(dir, "unix:uid"), dir + " owner");
        assertEquals(Integer.parseInt(gid), Files.getAttribute(dir, "unix:gid"), dir + " group");
    }

    private static void copyTree(Path from, Path to) throws IOException {
        List<Path> all;
        try (Stream<Path> s = Files.walk(from)) {
            all = new ArrayList<>(s.toList());
        }
        for (Path p : all) {
            Path target = to.resolve(from.relativize(p).toString());
            if (Files.isSymbolicLink(p)) {
                Files.createDirectories(target.getParent());
                Files.createSymbolicLink(target, Files.readSymbolicLink(p));
            } else if (Files.isDirectory(p)) {
                Files.createDirectories(target);
            } else {
                Files.copy(p, target);
            }
        }
    }
}
