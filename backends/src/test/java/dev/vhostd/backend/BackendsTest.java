package dev.vhostd.backend;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Opening backends from URIs and options, and the operator messages when that fails. */
class BackendsTest {
    @TempDir
    Path dir;

    private static String failure(String uri, BackendOptions o) {
        return assertThrows(BackendOpenException.class, () -> Backends.open(uri, o).close()).getMessage();
    }

    @Test
    void unknownSchemeNamesTheKnownOnes() {
        assertEquals("unknown backend 'foo:'; use file:PATH, memory:SIZE, null:SIZE[,latency=DURATION] or rbd:POOL/IMAGE[@SNAP][,conf=PATH,...]",
                failure("foo:bar", BackendOptions.defaults()));
        assertTrue(failure("/var/disk.img", BackendOptions.defaults()).contains("use file:PATH"));
        assertTrue(failure("", BackendOptions.defaults()).contains("no backend"));
    }

    @Test
    void missingFileWithoutSizeSaysToPassSize() {
        Path p = dir.resolve("nope.img");
        assertEquals("file " + p + " does not exist; pass --size to create it",
                failure("file:" + p, BackendOptions.defaults()));
        assertFalse(Files.exists(p));
        assertTrue(failure("file:" + p, BackendOptions.defaults().withSize(1 << 20).withReadOnly(true))
                .contains("read-only backend cannot create it"));
        assertTrue(failure("file:" + dir.resolve("no/such/dir.img"), BackendOptions.defaults().withSize(1 << 20))
                .contains("does not exist"));
    }

    @Test
    void createsAMissingFileOfTheGivenSize() throws IOException {
        Path p = dir.resolve("new.img");
        try (BlockBackend b = Backends.open("file:" + p, BackendOptions.defaults().withSize(16L << 20))) {
            assertEquals(16L << 20, b.capacity());
            assertEquals(512, b.blockSize());
            assertTrue(b.hasVolatileCache());
            assertTrue(b.supportsWriteZeroes());
            assertTrue(b.describe().startsWith("file:" + p), b.describe());
        }
        assertEquals(16L << 20, Files.size(p));
        // Reopening with the same size is fine; another size is refused, the file untouched.
        Backends.open("file:" + p, BackendOptions.defaults().withSize(16L << 20)).close();
        assertTrue(failure("file:" + p, BackendOptions.defaults().withSize(32L << 20)).contains("drop --size"));
        assertEquals(16L << 20, Files.size(p));
    }

    @Test
    void sizeNotAMultipleOfTheBlockSizeIsRefusedBeforeCreating() {
        Path p = dir.resolve("odd.img");
        String m = failure("file:" + p, BackendOptions.defaults().withSize(1000));
        assertTrue(m.contains("not a multiple of the block size 512"), m);
        assertFalse(Files.exists(p));
        m = failure("file:" + p, BackendOptions.defaults().withSize(6144).withLogicalBlockSize(4096));
        assertTrue(m.contains("not a multiple of the block size 4096"), m);
        assertTrue(failure("memory:1000", BackendOptions.defaults()).contains("not a multiple of the block size"));
    }

    @Test
    void existingFileWithAPartialLastBlockIsRefused() throws IOException {
        // Rounding down would hide the file's tail from the guest without a word; QEMU refuses too.
        Path p = dir.resolve("ragged.img");
        Files.write(p, new byte[4096 + 100]);
        String m = failure("file:" + p, BackendOptions.defaults().withLogicalBlockSize(4096));
        assertTrue(m.contains("4196 bytes, not a multiple of the 4096-byte logical block size")
                && m.contains("truncate -s 8192"), m);
        Path tiny = dir.resolve("tiny.img");
        Files.write(tiny, new byte[100]);
        assertTrue(failure("file:" + tiny, BackendOptions.defaults()).contains("smaller than one block"));
    }

    @Test
    void directoriesAndOtherFileTypesAreRefused() {
        String m = failure("file:" + dir, BackendOptions.defaults());
        assertTrue(m.contains("directory"), m);
        m = failure("file:/dev/null", BackendOptions.defaults());
        assertTrue(m.contains("neither a regular file nor a block device"), m);
    }

    @Test
    void memoryAndNullTakeTheirSizeFromTheUriOrTheOptions() {
        try (BlockBackend b = Backends.open("memory:", BackendOptions.defaults().withSize(1 << 20))) {
            assertEquals(1 << 20, b.capacity());
            assertFalse(b.hasVolatileCache());
            assertTrue(b.supportsDiscard() && b.discardZeroes() && b.supportsWriteZeroes());
        }
        try (BlockBackend b = Backends.open("NULL:1T", BackendOptions.defaults().withLogicalBlockSize(4096))) {
            assertEquals(1L << 40, b.capacity());
            assertEquals(4096, b.blockSize());
        }
        assertTrue(failure("memory:", BackendOptions.defaults()).contains("memory: needs a size"));
        assertTrue(failure("memory:12Q", BackendOptions.defaults()).contains("invalid size"));
        assertTrue(failure("null:1G", BackendOptions.defaults().withSize(2L << 30)).contains("give the size once"));
        assertTrue(failure("memory:1G", BackendOptions.defaults().withDirect(true)).contains("file: backends only"));
        assertTrue(failure("file:", BackendOptions.defaults()).contains("needs a path"));
        assertTrue(failure("null:1G,latency=5", BackendOptions.defaults()).contains("has no unit"));
        assertTrue(failure("null:1G,latency=fast", BackendOptions.defaults()).contains("has no unit"));
        assertTrue(failure("null:1G,latency=1.5ms", BackendOptions.defaults()).contains("whole number"));
        assertTrue(failure("null:1G,latency=11s", BackendOptions.defaults()).contains("out of range"));
        assertTrue(failure("null:1G,speed=1", BackendOptions.defaults()).contains("unknown null: option 'speed=1'"));
        try (BlockBackend b = Backends.open("null:1G,latency=50us", BackendOptions.defaults())) {
            assertEquals(1L << 30, b.capacity());
            assertTrue(b.describe().contains("latency=50000ns"), b.describe());
        }
    }

    @Test
    void aLargeMemoryDiskCostsNothingUntilWritten() {
        // 64 GiB of address space with MAP_NORESERVE: only touched pages would cost memory.
        try (BlockBackend b = Backends.open("memory:64G", BackendOptions.defaults())) {
            assertEquals(64L << 30, b.capacity());
        }
    }

    @Test
    void engineIsSelectable() throws IOException {
        Path p = dir.resolve("engine.img");
        BackendOptions o = BackendOptions.defaults().withSize(1 << 20);
        try (BlockBackend b = Backends.open("file:" + p, o.withAio(Aio.SYNC))) {
            assertTrue(b.describe().contains("(sync"), b.describe());
            try (BackendQueue q = b.openQueue()) {
                assertEquals(-1, q.completionFd());
            }
        }
        if (IoUringSupport.available()) {
            try (BlockBackend b = Backends.open("file:" + p, o.withAio(Aio.AUTO))) {
                assertTrue(b.describe().contains("(io_uring"), b.describe());
                try (BackendQueue q = b.openQueue()) {
                    assertTrue(q.completionFd() >= 0);
                }
            }
        } else {
            assertTrue(failure("file:" + p, o.withAio(Aio.IO_URING)).contains("use aio=sync"));
        }
        assertEquals(Aio.IO_URING, Aio.parse("io_uring"));
        assertEquals(Aio.SYNC, Aio.parse("SYNC"));
        assertThrows(IllegalArgumentException.class, () -> Aio.parse("posix"));
    }

    @Test
    void readOnlyFileOpensWithoutWritePermission() throws IOException {
        Path p = dir.resolve("ro.img");
        Files.write(p, new byte[8192]);
        assertTrue(p.toFile().setWritable(false, false));
        boolean root = "root".equals(System.getProperty("user.name"));
        if (!root) {
            assertTrue(failure("file:" + p, BackendOptions.defaults()).contains("--read-only"));
        }
        try (BlockBackend b = Backends.open("file:" + p, BackendOptions.defaults().withReadOnly(true))) {
            assertTrue(b.readOnly());
            assertFalse(b.hasVolatileCache());
            assertFalse(b.supportsDiscard());
        }
    }

    @Test
    void aFileBackendRefusesToCloseUnderItsQueues() {
        BlockBackend b = Backends.open("file:" + dir.resolve("q.img"), BackendOptions.defaults().withSize(1 << 20));
        BackendQueue q1 = b.openQueue();
        BackendQueue q2 = b.openQueue();
        q1.close();
        String m = assertThrows(IllegalStateException.class, b::close).getMessage();
        assertTrue(m.contains("1 of its queues are still open"), m);
        q2.close();
        q2.close(); // idempotent, counted once
        b.close();
        assertThrows(IllegalStateException.class, b::openQueue);
    }

    @Test
    void optionsRejectNonsense() {
        BackendOptions d = BackendOptions.defaults();
        assertThrows(IllegalArgumentException.class, () -> d.withLogicalBlockSize(1024));
        assertThrows(IllegalArgumentException.class, () -> d.withQueueDepth(0));
        assertThrows(IllegalArgumentException.class, () -> d.withSize(-1));
    }
}
