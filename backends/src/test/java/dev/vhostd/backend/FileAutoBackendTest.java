package dev.vhostd.backend;

import java.nio.file.Path;

/** A file on the local file system of the build directory, the default engine (aio=auto). */
class FileAutoBackendTest extends FileAutoContract {
    @Override
    protected BlockBackend openBackend(Path dir) {
        return Backends.open("file:" + dir.resolve("disk.img"), BackendOptions.defaults().withSize(CAPACITY));
    }

    @Override
    protected Path imageDir() {
        return dir;
    }
}
