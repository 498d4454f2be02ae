package dev.vhostd.backend;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A file on tmpfs (/dev/shm), the default engine. tmpfs refuses FALLOC_FL_ZERO_RANGE, so the
 * write-zeroes cases of the contract exercise the fallbacks (punch hole, zero buffers); it has
 * no RWF_NOWAIT either (Linux 6.18), so reads and writes run inline.
 */
class FileTmpfsBackendTest extends FileAutoContract {
    private final List<Path> created = new ArrayList<>();
    private Path shmDir;

    @Override
    protected BlockBackend openBackend(Path dir) throws IOException {
        Path shm = Files.createTempDirectory(Path.of("/dev/shm"), "vhostd-test");
        created.add(shm);
        shmDir = shm;
        return Backends.open("file:" + shm.resolve("disk.img"), BackendOptions.defaults().withSize(CAPACITY));
    }

    @Override
    protected Path imageDir() {
        return shmDir;
    }

    @AfterEach
    void removeShmFiles() throws IOException {
        for (Path p : created) {
            try (Stream<Path> s = Files.walk(p)) {
                for (Path q : s.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(q);
                }
            }
        }
    }

    /** Only where writes run inline (tmpfs): elsewhere writes that may block go to the worker. */
    @Test
    void aStalledInlineWriteSendsWritesThroughTheRingUntilTheBackOffEnds() throws InterruptedException {
        assumeTrue(NowaitProbe.unsupported(imageDir(), true), "this file system has non-blocking buffered writes");
        assertEquals("inline", blockingPath(), "tmpfs never writes pages back, so its writes run inline");
        FileBackend file = (FileBackend) backend;
        // A stall limit of 0 makes every inline write count as stalled.
        try (BackendQueue q0 = file.openQueue(0, 3_600_000_000_000L)) {
            UringFileQueue q = (UringFileQueue) q0;
            assertTrue(q.submit(data(IoOp.Type.WRITE, 0, patterned(4096, 1))), "learning write runs inline");
            assertEquals("inline", q.path(true));
            assertEquals(1, q.inlineStalls());
            IoOp second = data(IoOp.Type.WRITE, 4096, patterned(4096, 2));
            assertFalse(q.submit(second), "during the back-off writes go to the ring");
            List<IoOp> done = new ArrayList<>();
            q.flushSubmissions();
            q.drain(done::add);
            assertEquals(List.of(second), done);
            assertEquals(0, second.result());
            assertEquals(1, q.inlineStalls());
        }
        try (BackendQueue q0 = file.openQueue(0, 1_000_000L)) {
            UringFileQueue q = (UringFileQueue) q0;
            assertTrue(q.submit(data(IoOp.Type.WRITE, 8192, patterned(4096, 3))));
            Thread.sleep(5);
            assertTrue(q.submit(data(IoOp.Type.WRITE, 12288, patterned(4096, 4))), "inline again after the back-off");
            assertEquals(2, q.inlineStalls());
        }
        for (int i = 0; i < 4; i++) {
            int seed = i + 1;
            assertContent(read(i * 4096L, 4096), i * 4096L, off -> pattern(seed, off % 4096));
        }
    }
}
