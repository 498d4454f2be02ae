package dev.vhostd.backend;

import java.nio.file.Path;

class MemoryBackendTest extends BlockBackendContract {
    @Override
    protected BlockBackend openBackend(Path dir) {
        return Backends.open("memory:8M", BackendOptions.defaults());
    }

    /** Its one mapping cannot grow under the pollers that address it. */
    @Override
    protected boolean grows() {
        return false;
    }
}
