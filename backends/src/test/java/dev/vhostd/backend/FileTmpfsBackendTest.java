package dev.vhostd.backend;

import org.junit.jupiter.api.AfterEach;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

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
}
