package dev.vhostd.protocol.memory;

import java.util.List;

import org.junit.jupiter.api.Test;

import dev.vhostd.protocol.wire.Message;
import dev.vhostd.sys.Libc;
import dev.vhostd.sys.MemFd;
import dev.vhostd.sys.OwnedFd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Which guest memory cannot fault: regions whose file is sealed against shrinking (issue 10 item 1). */
class SealedMemoryTest {
    private static final long SIZE = 1 << 20;

    @Test
    void onlyMemoryWhoseEveryRegionIsSealedCannotFault() {
        try (MemoryTable table = new MemoryTable(4)) {
            int sealed = MemFd.createSealed("sealed", SIZE);
            int open = MemFd.create("open", SIZE);
            try {
                table.replace(List.of(new Message.MemoryRegion(0, SIZE, 0x7000_0000_0000L, 0)),
                        List.of(new OwnedFd(Libc.dupCloexec(sealed))));
                assertTrue(table.snapshot().cannotFault());
                assertEquals(List.of(), table.regionsThatCanShrink());

                table.add(new Message.MemoryRegion(SIZE, SIZE, 0x7000_0010_0000L, 0), new OwnedFd(Libc.dupCloexec(open)));
                assertFalse(table.snapshot().cannotFault(), "one unsealed region is enough to fault");
                assertEquals(1, table.regionsThatCanShrink().size());
                assertEquals(List.of(), table.shrunkRegions());

                Libc.ftruncate(open, SIZE / 4);
                List<String> shrunk = table.shrunkRegions();
                assertEquals(1, shrunk.size());
                assertTrue(shrunk.get(0).contains("gpa 0x100000") && shrunk.get(0).contains("now holds 262144"),
                        shrunk.get(0));
            } finally {
                Libc.close(sealed);
                Libc.close(open);
            }
        }
    }
}
