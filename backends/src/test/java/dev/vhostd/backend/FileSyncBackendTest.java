package dev.vhostd.backend;

import java.nio.file.Path;

class FileSyncBackendTest extends BlockBackendContract {
    @Override
    protected BlockBackend openBackend(Path dir) {
        return Backends.open("file:" + dir.resolve("disk.img"),
                BackendOptions.defaults().withSize(CAPACITY).withAio(Aio.SYNC));
    }
}
