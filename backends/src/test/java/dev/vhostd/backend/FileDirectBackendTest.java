package dev.vhostd.backend;

import java.nio.file.Path;

/** O_DIRECT with the default engine (io_uring where available), on the temp directory's file system. */
class FileDirectBackendTest extends BlockBackendContract {
    @Override
    protected BlockBackend openBackend(Path dir) {
        return Backends.open("file:" + dir.resolve("disk.img"),
                BackendOptions.defaults().withSize(CAPACITY).withDirect(true));
    }

    @Override
    protected boolean completesAsynchronously() {
        return IoUringSupport.available();
    }
}
