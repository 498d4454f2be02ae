package dev.vhostd.backend;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SizesTest {
    @Test
    void parsesPlainNumbersAndBinarySuffixes() {
        assertEquals(4096, Sizes.parse("4096"));
        assertEquals(512L << 20, Sizes.parse("512M"));
        assertEquals(1L << 30, Sizes.parse("1g"));
        assertEquals(3L << 40, Sizes.parse("3T"));
        assertEquals(4096, Sizes.parse("4k"));
        assertEquals(4096, Sizes.parse("4KiB"));
        assertEquals(2L << 30, Sizes.parse("2GB"));
        assertEquals(8L << 20, Sizes.parse(" 8M "));
    }

    @Test
    void rejectsGarbageAndOverflow() {
        for (String bad : new String[] {"", " ", "M", "1.5G", "-1", "12X", "G1", "0x10", "1 G"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Sizes.parse(bad), bad);
            assertTrue(e.getMessage().contains("size"), e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> Sizes.parse("9999999T"));
        assertThrows(IllegalArgumentException.class, () -> Sizes.parse("99999999999999999999"));
        assertEquals(8388607L << 40, Sizes.parse("8388607T"));
    }

    @Test
    void formatsWithTheLargestExactUnit() {
        assertEquals("512M", Sizes.format(512L << 20));
        assertEquals("1G", Sizes.format(1L << 30));
        assertEquals("4097", Sizes.format(4097));
        assertEquals("1536K", Sizes.format(1536L << 10));
    }
}
