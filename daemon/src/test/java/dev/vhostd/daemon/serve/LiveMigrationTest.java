package dev.vhostd.daemon.serve;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.vhostd.daemon.guest.GuestResult;
import dev.vhostd.daemon.guest.GuestVm;
import dev.vhostd.daemon.guest.LiveMigration;
import dev.vhostd.daemon.guest.QemuStorageDaemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Live migration of a running guest whose disk vhostd serves: two QEMU 10.0 processes, two vhostd
 * processes serving the same image file, the guest running verified fio reads and writes throughout
 * (scripts/guest/migration/fio-verify-load.sh), migration capped at 24 MiB/s so that RAM goes over in
 * several passes while I/O runs. qemu-storage-daemon runs the same test as the harness's control.
 *
 * <p>The guest's readers verify pages only the back end writes: a back end that does not mark them
 * in the dirty log leaves stale data in the destination's RAM, and the guest reports verify failures.
 */
class LiveMigrationTest {
    private static final long DISK = 64L << 20;
    private static final GuestVm.Options GUEST = GuestVm.Options.defaults().withMemMiB(384).withReconnect(true)
            .withTimeout(Duration.ofSeconds(900));

    @TempDir
    Path dir;

    @BeforeAll
    static void guestImage() {
        GuestVm.prepare();
    }

    private Path image() throws IOException {
        Path img = dir.resolve("disk.img");
        try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "rw")) {
            f.setLength(DISK);
        }
        return img;
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private VhostdProcess vhostd(String name, Path image, int metricsPort) throws IOException {
        // A JVM starting on a busy machine (two QEMUs emulating) can take a while to listen.
        return VhostdProcess.serve(Duration.ofSeconds(120), dir.resolve(name + ".sock"), dir.resolve(name + ".log"),
                "--backend",
                "file:" + image, "--metrics", Integer.toString(metricsPort));
    }

    private static void requireVerified(GuestResult r, int hops, String logs) {
        assertEquals(0, r.exitCode(), () -> r.describe() + logs);
        assertEquals(0, r.resultLong("failed"), () -> "fio verify failures\n" + r.describe() + logs);
        // At least one round on the last destination after the stop, and the rounds before it.
        assertTrue(r.resultLong("rounds") >= 1, r::describe);
        assertTrue(hops > 0);
    }

    /**
     * A → B → A → B: the source becomes the destination each time (a new QEMU on the vhostd the last
     * source left). Every hop needs several passes; every block the guest wrote before, during and
     * after is verified with zero errors; vhostd logged dirty pages for every hop.
     */
    @Test
    void vhostdMigratesARunningGuestBackAndForth() throws Exception {
        Path img = image();
        int portA = freePort();
        int portB = freePort();
        try (VhostdProcess a = vhostd("a", img, portA); VhostdProcess b = vhostd("b", img, portB);
                LiveMigration m = LiveMigration.boot(dir, img, dir.resolve("a.sock"), GUEST)) {
            Path[] sockets = {dir.resolve("b.sock"), dir.resolve("a.sock"), dir.resolve("b.sock")};
            int[] sourcePorts = {portA, portB, portA};
            for (int i = 0; i < sockets.length; i++) {
                double before = VhostdProcess.scrape(sourcePorts[i], "vhostd_dirty_pages_marked_total");
                LiveMigration.Hop hop = m.migrateTo(sockets[i]);
                System.out.println("vhostd migration " + (i + 1) + ": " + hop);
                assertTrue(hop.dirtySyncs() >= 3, () -> "several dirty-bitmap passes: " + hop);
                double after = VhostdProcess.scrape(sourcePorts[i], "vhostd_dirty_pages_marked_total");
                assertTrue(after > before, "the source vhostd marked pages during migration " + (i + 1));
            }
            assertTrue(VhostdProcess.scrape(portA, "vhostd_dirty_log_changes_total") >= 1);
            GuestResult r = m.finish();
            requireVerified(r, m.hops().size(), "\n--- vhostd a ---\n" + a.log() + "\n--- vhostd b ---\n" + b.log());
        }
    }

    /**
     * The destination's vhostd is killed (-9) and restarted while the source is paused just before
     * switch-over; QEMU reconnects, the guest resumes on the destination with its data intact.
     */
    @Test
    void destinationVhostdKilledJustBeforeSwitchover() throws Exception {
        Path img = image();
        VhostdProcess[] b = {null};
        try (VhostdProcess a = vhostd("a", img, freePort());
                LiveMigration m = LiveMigration.boot(dir, img, dir.resolve("a.sock"), GUEST)) {
            b[0] = vhostd("b", img, freePort());
            LiveMigration.Hop hop = m.migrateTo(dir.resolve("b.sock"), () -> {
                b[0].kill9();
                b[0] = vhostd("b", img, freePort());
            });
            System.out.println("vhostd migration with a destination restart: " + hop);
            GuestResult r = m.finish();
            requireVerified(r, 1, "\n--- vhostd a ---\n" + a.log() + "\n--- vhostd b ---\n" + b[0].log());
        } finally {
            if (b[0] != null) {
                b[0].close();
            }
        }
    }

    /** The harness's control: the same guest and load migrate between two qemu-storage-daemons. */
    @Test
    void qemuStorageDaemonMigratesTheSameGuest() throws Exception {
        Path img = image();
        String qsd = LiveMigration.qemuStorageDaemon10();
        try (QemuStorageDaemon a = QemuStorageDaemon.start(qsd, dir.resolve("a.sock"),
                new QemuStorageDaemon.Backend.SharedFile(img), 1, 0);
                QemuStorageDaemon b = QemuStorageDaemon.start(qsd, dir.resolve("b.sock"),
                        new QemuStorageDaemon.Backend.SharedFile(img), 1, 0);
                LiveMigration m = LiveMigration.boot(dir, img, a.socket(), GUEST)) {
            LiveMigration.Hop hop = m.migrateTo(b.socket());
            System.out.println("qemu-storage-daemon migration: " + hop);
            assertTrue(hop.dirtySyncs() >= 3, () -> "several dirty-bitmap passes: " + hop);
            requireVerified(m.finish(), 1, "\n--- qsd a ---\n" + a.output() + "\n--- qsd b ---\n" + b.output());
        }
    }
}
