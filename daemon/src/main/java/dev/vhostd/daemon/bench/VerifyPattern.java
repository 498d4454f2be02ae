package dev.vhostd.daemon.bench;

import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The --verify data pattern: every 8-byte word names its 512-byte sector, the write generation and
 * its position in the sector: {@code sector << 24 | (generation & 0x3FFFF) << 6 | word}. A stale
 * block, a block written to the wrong place and a torn write all read back as a mismatch that says
 * which sector and generation it really holds.
 */
final class VerifyPattern {
    private static final int WORDS_PER_SECTOR = 512 / 8;

    private VerifyPattern() {}

    static long word(long sector, int generation, int wordInSector) {
        return sector << 24 | (long) (generation & 0x3FFFF) << 6 | wordInSector;
    }

    static void fill(MemorySegment buf, long offset, int length, long firstSector, int generation) {
        int words = length / 8;
        for (int i = 0; i < words; i++) {
            buf.set(JAVA_LONG, offset + 8L * i,
                    word(firstSector + i / WORDS_PER_SECTOR, generation, i % WORDS_PER_SECTOR));
        }
    }

    /** Index of the first word that differs from the pattern, or -1 if all match. */
    static int firstMismatch(MemorySegment buf, long offset, int length, long firstSector, int generation) {
        int words = length / 8;
        for (int i = 0; i < words; i++) {
            if (buf.get(JAVA_LONG, offset + 8L * i)
                    != word(firstSector + i / WORDS_PER_SECTOR, generation, i % WORDS_PER_SECTOR)) {
                return i;
            }
        }
        return -1;
    }

    /** Human-readable decoding of a word read back, for mismatch reports. */
    static String describe(long word) {
        return String.format("0x%016x (sector %d, generation %d, word %d)", word, word >>> 24, (word >>> 6) & 0x3FFFF,
                word & 0x3F);
    }
}
