package dev.vhostd.backend;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What only a file can do: be grown, or shrunk, by someone else while vhostd serves it. */
class FileResizeTest {
    private static final long MIB = 1 << 20;

    @TempDir
    Path dir;

    private static void setLength(Path file, long length) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(length);
        }
    }

    @Test
    void resizeWithoutSizePicksUpAFileGrownOutsideInWholeBlocks() throws IOException {
        Path file = dir.resolve("d.img");
        try (BlockBackend b = Backends.open("file:" + file, BackendOptions.defaults().withSize(4 * MIB))) {
            setLength(file, 6 * MIB + 100);
            assertEquals(6 * MIB, b.resize(0), "the partial block at the end is not part of the disk");
            assertEquals(6 * MIB, b.capacity());
        }
    }

    @Test
    void aFileShrunkOutsideKeepsItsSizeAndSaysWhy() throws IOException {
        Path file = dir.resolve("d.img");
        try (BlockBackend b = Backends.open("file:" + file, BackendOptions.defaults().withSize(4 * MIB))) {
            setLength(file, 2 * MIB);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> b.resize(0));
            assertTrue(e.getMessage().contains("shrunk outside vhostd"), e.getMessage());
            assertEquals(4 * MIB, b.capacity());
        }
    }

    @Test
    void growingNeverTruncatesWhatTheFileAlreadyHolds() throws IOException {
        Path file = dir.resolve("d.img");
        try (BlockBackend b = Backends.open("file:" + file, BackendOptions.defaults().withSize(4 * MIB))) {
            setLength(file, 16 * MIB);
            assertEquals(8 * MIB, b.resize(8 * MIB));
            assertEquals(16 * MIB, Files.size(file), "the file was grown outside to 16 MiB; vhostd must not cut it");
            assertEquals(16 * MIB, b.resize(0));
        }
    }

    @Test
    void growingAFileExtendsItSparsely() throws IOException {
        Path file = dir.resolve("d.img");
        try (BlockBackend b = Backends.open("file:" + file, BackendOptions.defaults().withSize(4 * MIB))) {
            assertEquals(1L << 40, b.resize(1L << 40), "1 TiB on a small file system: ftruncate allocates nothing");
            assertEquals(1L << 40, Files.size(file));
        }
    }

    @Test
    void aReadOnlyFileIsNotGrownButItsOutsideGrowthIsSeen() throws IOException {
        Path file = dir.resolve("d.img");
        Files.write(file, new byte[(int) (2 * MIB)]);
        try (BlockBackend b = Backends.open("file:" + file, BackendOptions.defaults().withReadOnly(true))) {
            assertThrows(UnsupportedOperationException.class, () -> b.resize(4 * MIB));
            assertEquals(2 * MIB, Files.size(file));
            setLength(file, 3 * MIB);
            assertEquals(3 * MIB, b.resize(0));
        }
    }
}
