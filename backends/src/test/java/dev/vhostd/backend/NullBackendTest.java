package dev.vhostd.backend;

import java.nio.file.Path;

/** null: stores nothing, so every read returns zeroes whatever was written. */
class NullBackendTest extends BlockBackendContract {
    @Override
    protected BlockBackend openBackend(Path dir) {
        return Backends.open("null:8m", BackendOptions.defaults());
    }

    @Override
    protected boolean storesData() {
        return false;
    }
}
