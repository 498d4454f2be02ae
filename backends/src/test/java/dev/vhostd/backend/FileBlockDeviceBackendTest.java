package dev.vhostd.backend;

import org.junit.jupiter.api.BeforeAll;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The contract on a real block device, which needs one made for the purpose (its content is
 * destroyed), so it runs only when named:
 * <pre>
 * truncate -s 8M /tmp/bd.img; DEV=$(losetup -f --show /tmp/bd.img)
 * VHOSTD_TEST_BLOCK_DEVICE=$DEV mvn -pl backends -am test -Dtest=FileBlockDeviceBackendTest -Dsurefire.failIfNoSpecifiedTests=false
 * losetup -d $DEV
 * </pre>
 */
class FileBlockDeviceBackendTest extends BlockBackendContract {
    private static final String DEVICE = System.getenv("VHOSTD_TEST_BLOCK_DEVICE");

    @BeforeAll
    static void needsADevice() {
        assumeTrue(DEVICE != null && !DEVICE.isBlank(), "set VHOSTD_TEST_BLOCK_DEVICE to an 8 MiB scratch block device");
    }

    @Override
    protected BlockBackend openBackend(Path dir) {
        BlockBackend b = Backends.open("file:" + DEVICE, BackendOptions.defaults());
        // Every case expects a zeroed disk.
        try (BackendQueue q = b.openQueue()) {
            IoOp op = new IoOp(1).setRange(IoOp.Type.WRITE_ZEROES, 0, b.capacity(), false);
            if (!q.submit(op)) {
                q.flushSubmissions();
                q.drain(o -> { });
            }
            assertEquals(0, op.result(), "zeroing the device");
        }
        return b;
    }

    /** A block device is grown by its owner; vhostd only re-reads its size. */
    @Override
    protected boolean grows() {
        return false;
    }

    @Override
    protected boolean completesAsynchronously() {
        return IoUringSupport.available();
    }
}
