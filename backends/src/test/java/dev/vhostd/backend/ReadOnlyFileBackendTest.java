package dev.vhostd.backend;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** A read-only backend over a file with known content: reads see it, every write is EROFS. */
class ReadOnlyFileBackendTest extends BlockBackendContract {
    @Override
    protected BlockBackend openBackend(Path dir) throws IOException {
        Path file = dir.resolve("ro.img");
        byte[] content = new byte[(int) CAPACITY];
        for (int i = 0; i < content.length; i++) {
            content[i] = initialByte(i);
        }
        Files.write(file, content);
        return Backends.open("file:" + file, BackendOptions.defaults().withReadOnly(true));
    }

    @Override
    protected byte initialByte(long offset) {
        return (byte) (offset * 13 + (offset >>> 12));
    }
}
