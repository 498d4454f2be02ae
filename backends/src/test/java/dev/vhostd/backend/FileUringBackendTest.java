package dev.vhostd.backend;

import org.junit.jupiter.api.BeforeAll;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

class FileUringBackendTest extends BlockBackendContract {
    @BeforeAll
    static void needsIoUring() {
        assumeTrue(IoUringSupport.available(), () -> "io_uring unavailable: " + IoUringSupport.unavailableReason());
    }

    @Override
    protected BlockBackend openBackend(Path dir) {
        return Backends.open("file:" + dir.resolve("disk.img"),
                BackendOptions.defaults().withSize(CAPACITY).withAio(Aio.IO_URING));
    }

    @Override
    protected boolean completesAsynchronously() {
        return true;
    }
}
